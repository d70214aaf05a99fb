"""Pure checks and deterministic keys for postings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from synapse.errors import ErrorDetail, InsufficientBalance, ValidationFailed
from synapse.ledger import keys
from synapse.ledger.model import Currency, Kind, LevelUp, Posted, Posting

MAX_AMOUNT = 10**12


def rule_key(*, rule_id: int, event_id: int, effect_index: int) -> str:
    return keys.RuleCredit(rule_id, event_id, effect_index).render()


def award_key(request_id: str) -> str:
    return keys.Award(request_id).render()


def check_posting(posting: Posting, *, currency: Currency, balance: int) -> int:
    """Validate a posting against the current balance; return the balance after it."""
    problems = []
    if posting.amount == 0:
        problems.append(ErrorDetail("amount", "must not be zero"))
    if abs(posting.amount) > MAX_AMOUNT:
        problems.append(ErrorDetail("amount", f"must be within ±{MAX_AMOUNT}"))
    if not posting.idempotency_key or len(posting.idempotency_key) > 200:
        problems.append(ErrorDetail("idempotency_key", "must be 1..200 characters"))
    if posting.currency != currency.key:
        problems.append(ErrorDetail("currency", f"posting is for {posting.currency!r}, not {currency.key!r}"))
    if problems:
        raise ValidationFailed("invalid posting", problems)
    after = balance + posting.amount
    if after < 0 and not currency.allow_negative:
        raise InsufficientBalance(user_id=posting.user_id, currency=currency.key,
                                  balance=balance, amount=posting.amount)
    return after


def level_up(posted: Posted, currency: Currency) -> LevelUp | None:
    """The level-up a posting caused, if it crossed a boundary of a levelled currency."""
    if not currency.levelled:
        return None
    crossed = currency.curve.levels_crossed(posted.balance_before, posted.balance_after)
    if not crossed:
        return None
    p = posted.posting
    return LevelUp(guild_id=p.guild_id, user_id=p.user_id, currency=p.currency,
                   old_level=crossed.start - 1, new_level=crossed.stop - 1,
                   balance=posted.balance_after, occurred_at=p.occurred_at,
                   transaction_id=posted.transaction_id)


def season_resets(guild_id: int, season_id: int, season_name: str, at: datetime, currency: str,
                  balances: Iterable[tuple[int, int]], *, actor_id: int | None = None) -> list[Posting]:
    """The postings that reset a seasonal currency when its season closes: ``-balance`` for each non-zero
    ``(member, balance)``, in member order (a roll in the database, and a backtest across one, make the same)."""
    return [Posting(guild_id=guild_id, user_id=uid, currency=currency, amount=-balance, kind=Kind.season_reset,
                    idempotency_key=keys.SeasonReset(season_id, currency, uid).render(), occurred_at=at,
                    reason=f"season {season_id} ({season_name}) closed", actor_id=actor_id, season_id=season_id)
            for uid, balance in sorted(balances) if balance != 0]
