"""Manual awards (admins): credit or debit a member by hand. Audited, idempotent on the request id.

The idempotency key is ``ledger.posting.award_key(request_id)``: for a slash
command the interaction id, for the dashboard the request id. A repeated
request (Discord retrying, a double click) finds the transaction already
posted and returns it, without a second posting or a second audit row.
A debit below zero is refused for currencies that do not allow negative
balances: in pure code first (``check_posting``), then by the database CHECK.

The posting goes through the engine (``rules_runner.post_by_hand``) as earned credit does: an
award that crosses levels emits the ``level_up`` events, and with them the level roles and
announcements the guild's rules give; the member is checked for milestones (rewards paid).
``announce=False`` writes no announcement rows (role changes still happen).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db import ledger_store
from synapse.errors import ErrorDetail, ValidationFailed
from synapse.ledger.model import Kind, Posting
from synapse.ledger.posting import award_key, check_posting
from synapse.services.rules_runner import post_by_hand

MAX_REASON = 200


@dataclass(frozen=True)
class Award:
    user_id: int
    currency: str
    amount: int
    balance_after: int
    transaction_id: int
    repeated: bool          # the request id had been posted before: nothing changed now
    level_ups: int = 0      # levels crossings this award caused (each a ``level_up`` event)
    milestones: list[str] = field(default_factory=list)   # milestones it earned the member
    outbox_ids: list[int] = field(default_factory=list)   # announcements and role changes it queued

def award(conn: Connection, guild_id: int, *, user_id: int, currency: str, amount: int, reason: str,
          actor: Actor, request_id: str, at: datetime, announce: bool = True) -> Award:
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("invalid award", [ErrorDetail("reason", "say why (it is shown in the audit log)")])
    key = award_key(request_id)
    ledger_store.lock_members(conn, guild_id, [user_id])
    earlier = conn.execute(text("""
        SELECT id, user_id, currency_key, amount, balance_after FROM transactions
         WHERE guild_id = :g AND idempotency_key = :k"""), {"g": guild_id, "k": key}).first()
    if earlier is not None:
        return Award(earlier.user_id, earlier.currency_key, int(earlier.amount), int(earlier.balance_after),
                     int(earlier.id), True)
    spec = ledger_store.get_currency(conn, guild_id, currency)
    posting = Posting(guild_id=guild_id, user_id=user_id, currency=spec.key, amount=amount, kind=Kind.admin_award,
                      idempotency_key=key, occurred_at=at, reason=reason[:MAX_REASON], actor_id=actor.id,
                      meta={"request_id": request_id})
    balance = ledger_store.balances(conn, guild_id, user_id).get(spec.key, 0)
    check_posting(posting, currency=spec, balance=balance)
    # The member's lock is held since before the check for an earlier twin: no twin can post in between.
    result = post_by_hand(conn, guild_id, [posting], kind="admin_award", key=key, at=at, announce=announce,
                          actor_id=actor.id)
    [done] = [p for p in result.changes.postings if p.posting.idempotency_key == key]
    record(conn, guild_id=guild_id, actor=actor, action="ledger.award", entity_type="member", entity_id=user_id,
           before={"currency": spec.key, "balance": done.balance_before},
           after={"currency": spec.key, "balance": done.balance_after, "amount": amount, "reason": posting.reason,
                  "transaction_id": done.transaction_id})
    return Award(user_id, spec.key, amount, done.balance_after, done.transaction_id, False,
                 level_ups=len(result.tally.level_ups), milestones=[k for _, k in result.tally.milestones],
                 outbox_ids=result.outbox_ids)
