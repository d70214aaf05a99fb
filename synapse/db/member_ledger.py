"""Read models of the admin Member page: find a member, and their ledger with each line's provenance.

The ledger is read newest first by ``(occurred_at, id)``, one currency at a time through
``ix_transactions_member_currency_time`` (a LATERAL per currency, then merged): a page costs
O(currencies × page size) however many transactions the member has, with no extra index on
the hottest insert table. Provenance is joined per line: the rule's name at the version that
posted it (``rule_versions``, else the rule), the admin actor's display name, and for a
clawback the transaction it took back (its key is ``clawback:`` + the original's key).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

MAX_QUERY = 100


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_SEARCH = """
    WITH hits AS (
        SELECT user_id FROM member_cache
         WHERE guild_id = :g AND (user_id = CAST(:id AS bigint) OR display_name ILIKE :pattern ESCAPE '\\')
        UNION
        SELECT user_id FROM wallets WHERE guild_id = :g AND user_id = CAST(:id AS bigint))
    SELECT h.user_id, m.display_name, m.avatar, m.left_at, m.last_seen_at
      FROM hits h LEFT JOIN member_cache m ON m.guild_id = :g AND m.user_id = h.user_id
     ORDER BY (h.user_id = CAST(:id AS bigint)) DESC NULLS LAST, lower(m.display_name) NULLS LAST, h.user_id
     LIMIT :n"""

_RECENT = """
    SELECT user_id, display_name, avatar, left_at, last_seen_at FROM member_cache
     WHERE guild_id = :g AND NOT is_bot ORDER BY last_seen_at DESC, user_id LIMIT :n"""

_BALANCES = """
    SELECT user_id, currency_key, balance FROM wallets
     WHERE guild_id = :g AND user_id = ANY(CAST(:users AS bigint[])) ORDER BY user_id, currency_key"""


def search(conn: Connection, guild_id: int, query: str | None, *, limit: int) -> list[dict[str, Any]]:
    """Members whose id is ``query`` or whose name contains it (case-insensitive), with their balances;
    with no query, the most recently active members."""
    q = (query or "").strip()[:MAX_QUERY]
    if q:
        exact = int(q) if q.isdigit() and len(q) <= 19 and int(q) < 2**63 else None
        rows = conn.execute(text(_SEARCH), {"g": guild_id, "id": exact, "pattern": _like(q), "n": limit}).all()
    else:
        rows = conn.execute(text(_RECENT), {"g": guild_id, "n": limit}).all()
    balances: dict[int, dict[str, int]] = {}
    if rows:
        for b in conn.execute(text(_BALANCES), {"g": guild_id, "users": [r.user_id for r in rows]}):
            balances.setdefault(int(b.user_id), {})[b.currency_key] = int(b.balance)
    return [{"user_id": int(r.user_id), "display_name": r.display_name, "avatar": r.avatar, "left_at": r.left_at,
             "last_seen_at": r.last_seen_at, "balances": balances.get(int(r.user_id), {})} for r in rows]


def member(conn: Connection, guild_id: int, user_id: int) -> dict[str, Any] | None:
    """The member cache row (display data, join and leave dates), or None if Synapse never saw them."""
    row = conn.execute(text("""
        SELECT display_name, avatar, joined_at, left_at, last_seen_at, is_bot FROM member_cache
         WHERE guild_id = :g AND user_id = :u"""), {"g": guild_id, "u": user_id}).first()
    return None if row is None else dict(row._mapping)


def has_transactions(conn: Connection, guild_id: int, user_id: int) -> bool:
    return conn.execute(text("SELECT EXISTS (SELECT 1 FROM transactions WHERE guild_id = :g AND user_id = :u)"),
                        {"g": guild_id, "u": user_id}).scalar_one() is True


_LEDGER = """
    SELECT t.id, t.currency_key, t.amount, t.balance_after, t.kind, t.reason, t.rule_id, t.rule_version,
           t.event_id, t.event_type, t.actor_id, t.season_id, t.occurred_at, t.meta ->> 'source' AS import_source,
           COALESCE(rv.definition ->> 'name', r.name) AS rule_name, am.display_name AS actor_name,
           o.id AS clawback_of
      FROM currencies c
     CROSS JOIN LATERAL (
           SELECT * FROM transactions t
            WHERE t.guild_id = :g AND t.user_id = :u AND t.currency_key = c.key {after}
            ORDER BY t.occurred_at DESC, t.id DESC LIMIT :n) t
      LEFT JOIN rules r ON r.guild_id = t.guild_id AND r.rule_id = t.rule_id
      LEFT JOIN rule_versions rv ON rv.guild_id = t.guild_id AND rv.rule_id = t.rule_id AND rv.version = t.rule_version
      LEFT JOIN member_cache am ON am.guild_id = t.guild_id AND am.user_id = t.actor_id
      LEFT JOIN transactions o ON t.kind = 'clawback' AND o.guild_id = t.guild_id
                              AND o.idempotency_key = substr(t.idempotency_key, length('clawback:') + 1)
     WHERE c.guild_id = :g {currency}
     ORDER BY t.occurred_at DESC, t.id DESC LIMIT :n"""
# The first bound is an index condition of ix_transactions_member_currency_time; the second breaks ties.
_AFTER = "AND t.occurred_at <= :at AND (t.occurred_at < :at OR t.id < :id)"


def ledger(conn: Connection, guild_id: int, user_id: int, *, currency: str | None = None,
           before: tuple[datetime, int] | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """A member's transactions, newest first, strictly before ``before`` = (occurred_at, id) if given."""
    sql = _LEDGER.format(after=_AFTER if before else "", currency="AND c.key = :c" if currency else "")
    params: dict[str, Any] = {"g": guild_id, "u": user_id, "n": limit, "c": currency}
    if before:
        params.update(at=before[0], id=before[1])
    return [dict(r._mapping) for r in conn.execute(text(sql), params)]
