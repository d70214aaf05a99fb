"""The transactions browser: a guild's ledger, newest first, in keyset pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class TransactionRow:
    id: int
    user_id: int
    currency: str
    amount: int
    balance_after: int
    kind: str
    reason: str
    rule_id: int | None
    actor_id: int | None
    season_id: int | None
    occurred_at: datetime
    rule_version: int | None = None
    event_id: int | None = None
    event_type: str | None = None


def transactions(conn: Connection, guild_id: int, *, user_id: int | None = None, currency: str | None = None,
                 kind: str | None = None, before_id: int | None = None, limit: int = 50
                 ) -> tuple[list[TransactionRow], bool]:
    """Up to ``limit`` transactions with ids below ``before_id``, newest first; and whether more follow."""
    rows = conn.execute(text("""
        SELECT id, user_id, currency_key, amount, balance_after, kind, reason, rule_id, actor_id, season_id,
               occurred_at, rule_version, event_id, event_type
          FROM transactions
         WHERE guild_id = :g AND (CAST(:u AS bigint) IS NULL OR user_id = :u)
           AND (CAST(:c AS text) IS NULL OR currency_key = :c) AND (CAST(:k AS text) IS NULL OR kind = :k)
           AND (CAST(:before AS bigint) IS NULL OR id < :before)
         ORDER BY id DESC LIMIT :n"""), {"g": guild_id, "u": user_id, "c": currency, "k": kind,
                                          "before": before_id, "n": limit + 1}).all()
    items = [TransactionRow(r.id, r.user_id, r.currency_key, r.amount, r.balance_after, r.kind, r.reason, r.rule_id,
                            r.actor_id, r.season_id, r.occurred_at, r.rule_version, r.event_id, r.event_type)
             for r in rows[:limit]]
    return items, len(rows) > limit
