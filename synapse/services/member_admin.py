"""Member management (admins): set a member's balance or level, reset them, and reset on leave.

Every change is a ``correction`` transaction (never an edit or a delete): setting a balance to B
posts one correction of B − current; setting level L on a levelled currency sets the balance to
the curve's threshold of L; a reset brings balances to 0. Each admin request writes one
``admin_log`` row (before/after balances, the reason, the transactions) in the same transaction,
and is idempotent on its request key: the member is locked, then the audit row of an earlier
request with the same key is looked for; if found, its outcome is returned (``repeated``) and
nothing is posted. The transactions' own keys (``correction:{request}:{member}:{currency}``)
make a second posting impossible even so.

A result below zero is refused for currencies that do not allow negatives: in pure code first
(``target_balance``, ``check_posting``), then by the database CHECK. If the balance moved under
us anyway (a writer that does not take the member lock), the posted ``balance_after`` differs
from the target and the whole request rolls back with a Conflict.

Posting goes through :func:`_post` only, which hands the corrections to the engine
(``rules_runner.post_by_hand``) as any manual action: a level set by hand emits its ``level_up``
events, and with them the level roles and announcements the guild's rules give (``announce=False``:
no announcement rows); the member is checked for milestones.

``reset_on_leave`` is called by ingest (in its transaction) for newly stored events: when the
guild's ``reset_on_leave`` setting is on, a ``member_leave`` resets the member's balances with
corrections keyed on the leave event, so a replayed event posts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.admin.audit import SYSTEM, Actor, record
from synapse.db import ledger_store
from synapse.errors import Conflict, ErrorDetail, ValidationFailed
from synapse.eventlake.events import Event
from synapse.ledger.curves import MAX_LEVEL
from synapse.ledger.model import Currency, Kind, Posted, Posting
from synapse.ledger.posting import MAX_AMOUNT, check_posting
from synapse.services.rules_runner import post_by_hand

MAX_REASON = 200
LEAVE_REASON = "reset on leave"
SET_BALANCE = "member.set_balance"
SET_LEVEL = "member.set_level"
RESET = "member.reset"
RESET_ON_LEAVE = "member.reset_on_leave"
ACTIONS = (SET_BALANCE, SET_LEVEL, RESET)


@dataclass(frozen=True)
class Change:
    """One currency of one member moved from ``before`` to ``after`` by one correction."""

    currency: str
    before: int
    after: int
    transaction_id: int

    @property
    def amount(self) -> int:
        return self.after - self.before


@dataclass(frozen=True)
class Adjustment:
    user_id: int
    action: str
    reason: str
    changes: tuple[Change, ...]   # empty: the balances were already what was asked
    audit_id: int
    repeated: bool                # the request key had been used before: nothing changed now


# ---------------------------------------------------------------- pure decisions

def target_balance(currency: Currency, balance: int, *, path: str = "balance") -> int:
    """``balance`` if a wallet of ``currency`` may hold it; else a ValidationFailed naming ``path``."""
    if abs(balance) > MAX_AMOUNT:
        raise ValidationFailed("invalid balance", [ErrorDetail(path, f"must be within ±{MAX_AMOUNT}")])
    if balance < 0 and not currency.allow_negative:
        raise ValidationFailed("invalid balance", [ErrorDetail(
            path, f"must be at least 0: {currency.key} does not allow negative balances")])
    return balance


def balance_for_level(currency: Currency, level: int) -> int:
    """The least balance at ``level`` on the currency's curve (the threshold a member reaches it at)."""
    problems = []
    if not currency.levelled:
        problems.append(ErrorDetail("currency", f"{currency.key} is not levelled (it has no level curve)"))
    if not 0 <= level <= MAX_LEVEL:
        problems.append(ErrorDetail("level", f"must be within 0..{MAX_LEVEL}"))
    if problems:
        raise ValidationFailed("invalid level", problems)
    total = currency.curve.total_for(level)
    if total > MAX_AMOUNT:
        raise ValidationFailed("invalid level", [ErrorDetail(
            "level", f"level {level} needs {total}, beyond the largest balance ({MAX_AMOUNT})")])
    return total


def check_reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("invalid request", [ErrorDetail("reason", "say why (it is shown in the audit log)")])
    return reason[:MAX_REASON]


def correction_key(request_key: str, user_id: int, currency: str) -> str:
    return f"correction:{request_key}:{user_id}:{currency}"


def leave_key(source_event_id: str, currency: str) -> str:
    return f"reset_on_leave:{source_event_id}:{currency}"


# ---------------------------------------------------------------- the posting step

def _post(conn: Connection, guild_id: int, user_id: int, postings: Sequence[Posting], *, key: str, at: datetime,
          announce: bool = True, actor_id: int | None = None) -> list[Posted]:
    """Write corrections of one member through the engine; the one place they reach the ledger (see the
    module doc). Returns the corrections posted now (a key posted before is skipped)."""
    if not postings:
        return []
    result = post_by_hand(conn, guild_id, postings, kind="correction", key=key, at=at, announce=announce,
                          actor_id=actor_id)
    keys = {p.idempotency_key for p in postings}
    return [p for p in result.changes.postings if p.posting.idempotency_key in keys and p.posting.user_id == user_id]


# ---------------------------------------------------------------- admin requests

def set_balance(conn: Connection, guild_id: int, *, user_id: int, currency: str, balance: int, reason: str,
                actor: Actor, request_key: str, at: datetime) -> Adjustment:
    spec = ledger_store.get_currency(conn, guild_id, currency)
    target = target_balance(spec, balance)
    return _adjust(conn, guild_id, user_id=user_id, action=SET_BALANCE, reason=reason, actor=actor,
                   request_key=request_key, at=at, targets=lambda _: {spec.key: target},
                   details={"currency": spec.key, "balance": target})


def set_level(conn: Connection, guild_id: int, *, user_id: int, currency: str, level: int, reason: str,
              actor: Actor, request_key: str, at: datetime) -> Adjustment:
    spec = ledger_store.get_currency(conn, guild_id, currency)
    target = balance_for_level(spec, level)
    return _adjust(conn, guild_id, user_id=user_id, action=SET_LEVEL, reason=reason, actor=actor,
                   request_key=request_key, at=at, targets=lambda _: {spec.key: target},
                   details={"currency": spec.key, "level": level, "balance": target})


def reset(conn: Connection, guild_id: int, *, user_id: int, currency: str | None, reason: str, actor: Actor,
          request_key: str, at: datetime) -> Adjustment:
    """Bring one currency (or, with ``currency=None``, every currency) of a member to 0."""
    only = None if currency is None else ledger_store.get_currency(conn, guild_id, currency).key

    def zeros(balances: Mapping[str, int]) -> dict[str, int]:
        return {k: 0 for k in balances if only is None or k == only}

    return _adjust(conn, guild_id, user_id=user_id, action=RESET, reason=reason, actor=actor,
                   request_key=request_key, at=at, targets=zeros, details={"currency": only})


def _adjust(conn: Connection, guild_id: int, *, user_id: int, action: str, reason: str, actor: Actor,
            request_key: str, at: datetime, targets: Callable[[Mapping[str, int]], dict[str, int]],
            details: dict[str, Any]) -> Adjustment:
    reason = check_reason(reason)
    ledger_store.lock_members(conn, guild_id, [user_id])   # before reading: balances stay put until commit
    earlier = _earlier(conn, guild_id, user_id, request_key)
    if earlier is not None:
        if earlier.action != action:
            raise Conflict(f"request id already used for {earlier.action} of this member",
                           hint="send a new request id for a new change")
        return earlier
    balances = ledger_store.balances(conn, guild_id, user_id)
    wanted = targets(balances)
    currencies = ledger_store.load_currencies(conn, guild_id)
    postings: list[Posting] = []
    for key, target in sorted(wanted.items()):
        current = balances.get(key, 0)
        if target == current:
            continue
        posting = Posting(guild_id=guild_id, user_id=user_id, currency=key, amount=target - current,
                          kind=Kind.correction, idempotency_key=correction_key(request_key, user_id, key),
                          occurred_at=at, reason=reason, actor_id=actor.id,
                          meta={"request_id": request_key, "action": action})
        check_posting(posting, currency=currencies[key], balance=current)
        postings.append(posting)
    posted = _post(conn, guild_id, user_id, postings, key=f"correction:{request_key}:{user_id}", at=at,
                   actor_id=actor.id)
    if len(posted) != len(postings):
        raise Conflict("these corrections were posted already under this request id",
                       hint="send a new request id for a new change")
    moved = [p for p in posted if p.balance_after != wanted[p.posting.currency]]
    if moved:
        raise Conflict(f"{moved[0].posting.currency} of member {user_id} changed while it was being set",
                       hint="retry with a new request id")
    changes = tuple(Change(p.posting.currency, p.balance_before, p.balance_after, p.transaction_id) for p in posted)
    audit_id = record(conn, guild_id=guild_id, actor=actor, action=action, entity_type="member", entity_id=user_id,
                      before={"balances": {c.currency: c.before for c in changes}},
                      after={**details, "reason": reason, "request_key": request_key,
                             "balances": {c.currency: c.after for c in changes},
                             "changes": [_change_json(c) for c in changes]})
    return Adjustment(user_id, action, reason, changes, audit_id, False)


def _change_json(c: Change) -> dict[str, Any]:
    return {"currency": c.currency, "before": c.before, "after": c.after, "amount": c.amount,
            "transaction_id": c.transaction_id}


def _earlier(conn: Connection, guild_id: int, user_id: int, request_key: str) -> Adjustment | None:
    row = conn.execute(text("""
        SELECT id, action, after FROM admin_log
         WHERE guild_id = :g AND entity_type = 'member' AND entity_id = :u
           AND action = ANY(CAST(:actions AS text[])) AND after ->> 'request_key' = :k
         ORDER BY id LIMIT 1"""), {"g": guild_id, "u": str(user_id), "actions": list(ACTIONS),
                                   "k": request_key}).first()
    if row is None:
        return None
    changes = tuple(Change(str(c["currency"]), int(c["before"]), int(c["after"]), int(c["transaction_id"]))
                    for c in row.after.get("changes", []))
    return Adjustment(user_id, row.action, str(row.after.get("reason", "")), changes, int(row.id), True)


# ---------------------------------------------------------------- reset on leave

def reset_on_leave(conn: Connection, events: Sequence[Event]) -> int:
    """Reset the balances of members whose ``member_leave`` is among ``events`` (newly stored ones), in
    guilds with the ``reset_on_leave`` setting on; return the corrections posted. Costs nothing when no
    member left. The caller holds the members' locks (ingest takes them before appending)."""
    leaves = [e for e in events if e.event_type == "member_leave" and e.user_id is not None]
    if not leaves:
        return 0
    from synapse.admin.settings import load

    enabled = {g: load(conn, g).reset_on_leave for g in sorted({e.guild_id for e in leaves})}
    count = 0
    for e in leaves:
        if not enabled[e.guild_id] or e.user_id is None:
            continue
        balances = ledger_store.balances(conn, e.guild_id, e.user_id)
        postings = [Posting(guild_id=e.guild_id, user_id=e.user_id, currency=key, amount=-balance,
                            kind=Kind.correction, idempotency_key=leave_key(e.source_event_id, key),
                            occurred_at=e.occurred_at, reason=LEAVE_REASON, event_id=e.id,
                            meta={"event_type": e.event_type, "action": RESET_ON_LEAVE})
                    for key, balance in sorted(balances.items()) if balance != 0]
        posted = _post(conn, e.guild_id, e.user_id, postings, key=f"reset_on_leave:{e.source_event_id}",
                       at=e.occurred_at, announce=False)
        if posted:
            changes = [Change(p.posting.currency, p.balance_before, p.balance_after, p.transaction_id)
                       for p in posted]
            record(conn, guild_id=e.guild_id, actor=SYSTEM, action=RESET_ON_LEAVE, entity_type="member",
                   entity_id=e.user_id, before={"balances": {c.currency: c.before for c in changes}},
                   after={"reason": LEAVE_REASON, "event_id": e.id, "source_event_id": e.source_event_id,
                          "balances": {c.currency: c.after for c in changes},
                          "changes": [_change_json(c) for c in changes]})
        count += len(posted)
    return count


# ---------------------------------------------------------------- read side

def wallets(conn: Connection, guild_id: int, user_id: int) -> list[dict[str, Any]]:
    """Every currency of the guild with the member's balance (0 without a wallet) and, if levelled, level."""
    balances = ledger_store.balances(conn, guild_id, user_id)
    out = []
    for c in ledger_store.load_currencies(conn, guild_id).values():
        balance = balances.get(c.key, 0)
        progress = c.curve.progress(balance) if c.levelled else None
        out.append({"currency": c.key, "name": c.name, "symbol": c.symbol, "levelled": c.levelled,
                    "allow_negative": c.allow_negative, "balance": balance,
                    "level": progress.level if progress else None,
                    "into_level": progress.into_level if progress else None,
                    "for_next": progress.for_next if progress else None})
    return out
