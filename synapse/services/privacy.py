"""A member's own data: export it as JSON, or erase it.

Framework-free (``Connection`` in, plain data out): the ``/privacy`` slash
command and the dashboard's member export/erasure share it.

**Export** gathers every row keyed by the member: cached profile, role history, wallets,
transactions, Event Lake events they made, milestones, voice sessions, daily
rollups, lifetime event totals, season standings. Snowflakes are strings and
times ISO 8601, so the file is valid JSON for any reader.

**Erasure** deletes all of that in *one* transaction. The ledger and the lake
are append-only and PostgreSQL enforces it (``0002_ledger_invariants``); the one
sanctioned exception is a transaction that ran ``SET LOCAL synapse.erasure =
'on'``: then the triggers let a member's ``event_lake`` rows, ``transactions`` and
``wallets`` go (the lake's own trigger takes the member's ``member_event_totals``
with their events). They go together, so ``wallet.balance ==
SUM(transactions.amount)`` still holds (both sides are gone), and ``SET LOCAL`` ends with the transaction,
so no other work in the pool ever runs with the guard lowered. The flag is put
back to ``off`` before the audit row, so the rest of the caller's transaction
is protected again. The ``admin_log`` keeps one row saying who erased whom and
how many rows went (counts, no personal data).

Not erased: other members' events that name this member as a counterpart
(``message_author_id``, ``reply_to_user_id`` in a payload): they belong to the
other member's history and hold only a pseudonymous id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db.ledger_store import lock_members

EXPORT_VERSION = 1

# (section, table, columns); every table is keyed by (guild_id, user_id).
_SECTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("profile", "member_cache", "display_name, avatar, is_bot, roles, account_created_at, joined_at, left_at, "
                                "public_opt_out, first_seen_at, last_seen_at", ""),
    # (since null: held from before Synapse recorded changes)
    ("role_history", "member_role_history", "CASE WHEN since <> '-infinity' THEN since END AS since, roles",
     "ORDER BY member_role_history.since"),
    ("wallets", "wallets", "currency_key, balance, updated_at", "ORDER BY currency_key"),
    ("transactions", "transactions", "id, currency_key, amount, balance_after, kind, reason, rule_id, "
                                     "event_id, event_type, season_id, occurred_at", "ORDER BY id"),
    ("events", "event_lake", "id, source_system, source_event_id, event_type, channel_id, occurred_at, payload",
     "ORDER BY id"),
    ("milestones", "user_milestones", "milestone_id, earned_at, source", "ORDER BY earned_at"),
    ("voice_sessions", "voice_sessions", "channel_id, started_at, ended_at, end_reason", "ORDER BY id"),
    ("daily_activity", "member_daily", "day, messages, reactions, voice_seconds, events", "ORDER BY day"),
    ("event_totals", "member_event_totals", "event_type, field, events, total", "ORDER BY event_type, field"),
    ("season_standings", "season_snapshots", "season_id, currency_key, balance, rank",
     "ORDER BY season_id, currency_key"),
)

# Deletion order: children first; transactions before wallets (both under the erasure flag).
_ERASE_ORDER = ("user_milestones", "rule_state", "voice_sessions", "member_daily", "season_snapshots",
                "transactions", "wallets", "event_lake", "member_role_history", "member_cache")


@dataclass(frozen=True)
class ErasureReport:
    guild_id: int
    user_id: int
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= 2**31:
        return str(value)  # snowflakes as strings, like Discord
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def export_member(conn: Connection, guild_id: int, user_id: int) -> dict[str, Any]:
    """Everything Synapse stores about one member of one guild, as JSON-ready data."""
    data: dict[str, Any] = {"version": EXPORT_VERSION, "guild_id": str(guild_id), "user_id": str(user_id)}
    for section, table, columns, order in _SECTIONS:
        rows = conn.execute(text(f"SELECT {columns} FROM {table} WHERE guild_id = :g AND user_id = :u {order}"),
                            {"g": guild_id, "u": user_id}).mappings()
        items = [{k: _json(v) for k, v in row.items()} for row in rows]
        data[section] = (items[0] if items else None) if section == "profile" else items
    names = {r.milestone_id: r.name for r in conn.execute(
        text("SELECT milestone_id, name FROM milestones WHERE guild_id = :g"), {"g": guild_id})}
    for item in data["milestones"]:
        item["name"] = names.get(item["milestone_id"])
    return data


def has_data(conn: Connection, guild_id: int, user_id: int) -> bool:
    return bool(conn.execute(text("""
        SELECT EXISTS (SELECT 1 FROM member_cache WHERE guild_id = :g AND user_id = :u)
            OR EXISTS (SELECT 1 FROM wallets WHERE guild_id = :g AND user_id = :u)
            OR EXISTS (SELECT 1 FROM event_lake WHERE guild_id = :g AND user_id = :u)"""),
        {"g": guild_id, "u": user_id}).scalar_one())


def erase_member(conn: Connection, guild_id: int, user_id: int, *, actor: Actor) -> ErasureReport:
    """Delete the member's events and personal data, in the caller's (single) transaction; audited.

    The caller must hold a transaction (``engine.begin()``): ``SET LOCAL`` lasts until its end.
    """
    lock_members(conn, guild_id, [user_id])  # no posting for this member can interleave
    conn.execute(text("SET LOCAL synapse.erasure = 'on'"))
    deleted: dict[str, int] = {}
    for table in _ERASE_ORDER:
        deleted[table] = conn.execute(text(f"DELETE FROM {table} WHERE guild_id = :g AND user_id = :u"),
                                      {"g": guild_id, "u": user_id}).rowcount
    conn.execute(text("SET LOCAL synapse.erasure = 'off'"))
    record(conn, guild_id=guild_id, actor=actor, action="member.erase", entity_type="member",
           entity_id=user_id, before={"rows": deleted}, after=None)
    return ErasureReport(guild_id, user_id, deleted)
