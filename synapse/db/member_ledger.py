"""Read models of the admin Member page: find a member, and their ledger with each line's provenance.

The ledger is read in posting order (``id``), newest first, the order in which ``balance_after``
runs: by event time, a late event's credit would sit among lines posted after it and its balance
would look wrong. A page reads the member's rows through ``ix_transactions_member_currency_time``
and sorts them (like ``GET /admin/transactions?user_id=``): O(the member's transactions), fine for
an admin page; an index on ``(guild_id, user_id, id)`` would make it O(page) at a cost on every
insert of the busiest table, so it is not added here. Provenance is joined per line: the rule's
name at the version that posted it (``rule_versions``, else the rule), the admin actor's display
name, and for a clawback the transaction it took back (its key is ``clawback:`` + the original's key).
"""

from __future__ import annotations

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
      FROM transactions t
      LEFT JOIN rules r ON r.guild_id = t.guild_id AND r.rule_id = t.rule_id
      LEFT JOIN rule_versions rv ON rv.guild_id = t.guild_id AND rv.rule_id = t.rule_id AND rv.version = t.rule_version
      LEFT JOIN member_cache am ON am.guild_id = t.guild_id AND am.user_id = t.actor_id
      LEFT JOIN transactions o ON t.kind = 'clawback' AND o.guild_id = t.guild_id
                              AND o.idempotency_key = substr(t.idempotency_key, length('clawback:') + 1)
     WHERE t.guild_id = :g AND t.user_id = :u {currency} {before}
     ORDER BY t.id DESC LIMIT :n"""


def ledger(conn: Connection, guild_id: int, user_id: int, *, currency: str | None = None,
           before_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """A member's transactions in posting order, newest first, with ids below ``before_id`` if given."""
    sql = _LEDGER.format(currency="AND t.currency_key = :c" if currency else "",
                         before="AND t.id < :before" if before_id is not None else "")
    params: dict[str, Any] = {"g": guild_id, "u": user_id, "n": limit, "c": currency, "before": before_id}
    return [dict(r._mapping) for r in conn.execute(text(sql), params)]
