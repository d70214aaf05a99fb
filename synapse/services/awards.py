"""Manual awards (admins): credit or debit a member by hand. Audited, idempotent on the request id.

The idempotency key is ``ledger.posting.award_key(request_id)``: for a slash
command the interaction id, for the dashboard the request id. A repeated
request (Discord retrying, a double click) finds the transaction already
posted and returns it, without a second posting or a second audit row.
A debit below zero is refused for currencies that do not allow negative
balances: in pure code first (``check_posting``), then by the database CHECK.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db import ledger_store
from synapse.errors import ErrorDetail, ValidationFailed
from synapse.ledger.model import Kind, Posting
from synapse.ledger.posting import award_key, check_posting

MAX_REASON = 200


@dataclass(frozen=True)
class Award:
    user_id: int
    currency: str
    amount: int
    balance_after: int
    transaction_id: int
    repeated: bool          # the request id had been posted before: nothing changed now


def award(conn: Connection, guild_id: int, *, user_id: int, currency: str, amount: int, reason: str,
          actor: Actor, request_id: str, at: datetime) -> Award:
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
    posted = ledger_store.post(conn, [posting])
    if not posted:  # a concurrent twin committed between our check and our insert
        return award(conn, guild_id, user_id=user_id, currency=currency, amount=amount, reason=reason,
                     actor=actor, request_id=request_id, at=at)
    done = posted[0]
    record(conn, guild_id=guild_id, actor=actor, action="ledger.award", entity_type="member", entity_id=user_id,
           before={"currency": spec.key, "balance": done.balance_before},
           after={"currency": spec.key, "balance": done.balance_after, "amount": amount, "reason": posting.reason,
                  "transaction_id": done.transaction_id})
    return Award(user_id, spec.key, amount, done.balance_after, done.transaction_id, False)
