"""What a backtest replays besides the lake's events: the guild's actions that are no lake events (pure).

A season's roll, a manual award, a correction, an import and a milestone granted by hand change wallets
and milestones, and live they go through the loop (``loop.close_season``, ``loop.apply_postings``,
``loop.grant_by_hand``), but the lake holds no event for them. The ledger and the milestone table do:
``ledger_actions`` rebuilds them from what the loader read for a backtest (``Snapshot``), and ``apply``
runs one through the loop again, so a backtest across them pays what live paid (the level-ups an award
caused, the milestones it reached, the wallets a roll reset).

In a draft's backtest the actions are replayed as they were made, not recomputed: an award's amount is
the admin's, a correction that set a balance takes what it took then. Only where a draft left less in a
wallet than the action takes back (a correction down, in a currency that allows no negative balance) does
the action take what there is, as a partial debit does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import groupby

from synapse.eventlake.events import SYNAPSE, Event
from synapse.ledger.model import Kind, Posting, Season
from synapse.processing.loop import Context, Store, Tally, apply_postings, close_season, grant_by_hand

# The postings no rule makes that a backtest replays (a season's resets it makes itself: ``close_season``).
BY_HAND_KINDS: tuple[str, ...] = (Kind.admin_award, Kind.correction, Kind.import_, Kind.transfer)


@dataclass(frozen=True)
class ByHand:
    """Postings no rule made (an award, a correction, an import), made together at ``at``."""

    at: datetime
    kind: str
    postings: tuple[Posting, ...]


@dataclass(frozen=True)
class GrantedByHand:
    """A milestone granted by hand (``source`` admin | retro) to members at ``at``."""

    at: datetime
    guild_id: int
    milestone_id: int
    user_ids: tuple[int, ...]
    source: str
    granted_by: int | None


@dataclass(frozen=True)
class HandGrant:
    """One ``user_milestones`` row not earned by the rules (what the loader reads)."""

    guild_id: int
    user_id: int
    milestone_id: int
    earned_at: datetime
    source: str
    granted_by: int | None


Action = Season | ByHand | GrantedByHand


def when(action: Action) -> datetime:
    """The action's time (a season's: its close)."""
    if isinstance(action, Season):
        if action.ended_at is None:
            raise ValueError(f"season {action.season_id} has not closed (the active season does not close in a "
                             "backtest)")
        return action.ended_at
    return action.at


def ledger_actions(seasons: Iterable[Season], by_hand: Sequence[Posting], grants: Sequence[HandGrant],
                   start: datetime | None, end: datetime | None) -> list[Action]:
    """The actions in [start, end) (None: open-ended), in time order: the seasons that closed, the manual
    postings in ledger order grouped into the actions that made them (the same kind, time and actor), the
    hand grants grouped by milestone, time and grantor."""
    def inside(at: datetime) -> bool:
        return (start is None or at >= start) and (end is None or at < end)

    actions: list[Action] = [s for s in seasons if s.ended_at is not None and inside(s.ended_at)]
    for (kind, at, _), group in groupby(by_hand, key=lambda p: (p.kind, p.occurred_at, p.actor_id)):
        if inside(at):
            actions.append(ByHand(at, str(kind), tuple(group)))
    granted: dict[tuple[datetime, int, int, str, int | None], list[int]] = {}
    for g in grants:
        if inside(g.earned_at):
            granted.setdefault((g.earned_at, g.guild_id, g.milestone_id, g.source, g.granted_by), []).append(g.user_id)
    actions += [GrantedByHand(at, guild, mid, tuple(sorted(users)), source, by)
                for (at, guild, mid, source, by), users in granted.items()]
    order = {Season: 0, ByHand: 1, GrantedByHand: 2}
    return sorted(actions, key=lambda a: (when(a), order[type(a)]))


def apply(ctx: Context, state: Store, action: Action, tally: Tally) -> None:
    """Run one action through the loop, as live ran it."""
    if isinstance(action, Season):
        close_season(ctx, state, action)
        return
    if isinstance(action, ByHand):
        postings = _payable(ctx, state, action.postings)
        users = sorted({p.user_id for p in postings})
        if postings:
            apply_postings(ctx, state, postings, _cause(action.kind, postings[0], users, action.at),
                           check_milestones=users, tally=tally)
        return
    records = {m.record.milestone_id: m.record for m in ctx.milestones}
    record = records.get(action.milestone_id)
    if record is None:   # disabled or deleted since: nothing to grant (nor did the lake keep anything of it)
        return
    one = action.user_ids[0] if len(action.user_ids) == 1 else None
    cause = Event(SYNAPSE, f"milestone_grant:{record.spec.key}:{action.at.isoformat()}", "milestone_grant",
                  action.guild_id, one, None, action.at, {})
    for uid in action.user_ids:
        grant_by_hand(ctx, state, uid, [record], cause, source=action.source, granted_by=action.granted_by,
                      tally=tally)


def _cause(kind: str, first: Posting, users: Sequence[int], at: datetime) -> Event:
    """The action as the loop's cause (not in the lake), keyed by its first posting."""
    return Event(SYNAPSE, f"{kind}:{first.idempotency_key}", kind, first.guild_id,
                 users[0] if len(users) == 1 else None, None, at,
                 {} if first.actor_id is None else {"actor_id": str(first.actor_id)})


def _payable(ctx: Context, state: Store, postings: Sequence[Posting]) -> list[Posting]:
    """The postings, a debit that would take a no-negative wallet below zero cut to what the wallet holds."""
    out: list[Posting] = []
    running: dict[tuple[int, str], int] = {}
    for p in postings:
        key = (p.user_id, p.currency)
        have = running.get(key)
        if have is None:
            have = state.balance(p.user_id, p.currency)
        currency = ctx.currencies.get(p.currency)
        amount = p.amount
        if amount < 0 and -amount > have and not (currency is not None and currency.allow_negative):
            amount = -max(have, 0)
            if amount == 0:
                continue
            p = replace(p, amount=amount)
        running[key] = have + amount
        out.append(p)
    return out
