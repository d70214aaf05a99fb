"""The level role table in PostgreSQL (migration 0015): rows (currency, level, role) per guild.

``load_table`` is what the engine compiles (roles the directory says were deleted left out);
``FINGERPRINT`` is the SQL fragment the rules cache fingerprint adds, so a changed row, a deleted role
or a changed ``level_role_mode``/template setting reaches every worker's cached rules at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from synapse.rules.compile import LevelRoleTable
from synapse.rules.model import TEMPLATE_PLACEHOLDERS, template_errors


@dataclass(frozen=True, slots=True)
class Row:
    currency: str
    level: int
    role_id: int


# ``{g}``: the guild id expression. The settings the rules read (templates, level role mode) as one JSON text.
RULE_SETTINGS = """(SELECT jsonb_object_agg(key, value)::text FROM settings
      WHERE guild_id = {g} AND key IN ('levelup_template', 'milestone_template', 'level_role_mode'))"""

# The rows with each role's deleted flag, and the settings the rules read.
FINGERPRINT = """
    (SELECT md5(COALESCE(string_agg(lr.currency_key || ':' || lr.level || ':' || lr.role_id || ':'
                                    || (d.deleted_at IS NOT NULL), ',' ORDER BY lr.currency_key, lr.level), ''))
       FROM level_roles lr
       LEFT JOIN guild_directory d ON d.guild_id = lr.guild_id AND d.kind = 'role' AND d.id = lr.role_id
      WHERE lr.guild_id = {g}) AS level_roles,
    """ + RULE_SETTINGS + " AS rule_settings"


def rows(conn: Connection, guild_id: int) -> list[Row]:
    return [Row(r.currency_key, int(r.level), int(r.role_id)) for r in conn.execute(text(
        "SELECT currency_key, level, role_id FROM level_roles WHERE guild_id = :g ORDER BY currency_key, level"),
        {"g": guild_id})]


def replace(conn: Connection, guild_id: int, new: Sequence[Row]) -> None:
    """The guild's table becomes ``new`` (validated by the caller)."""
    conn.execute(text("DELETE FROM level_roles WHERE guild_id = :g"), {"g": guild_id})
    if new:
        conn.execute(text("""
            INSERT INTO level_roles (guild_id, currency_key, level, role_id)
            SELECT :g, c, l, r
              FROM unnest(CAST(:c AS text[]), CAST(:l AS int[]), CAST(:r AS bigint[])) AS x(c, l, r)"""),
            {"g": guild_id, "c": [r.currency for r in new], "l": [r.level for r in new],
             "r": [r.role_id for r in new]})


def deleted_roles(conn: Connection, guild_id: int) -> set[int]:
    """The table's roles the directory says were deleted in Discord."""
    return {int(r.role_id) for r in conn.execute(text("""
        SELECT lr.role_id FROM level_roles lr JOIN guild_directory d
            ON d.guild_id = lr.guild_id AND d.kind = 'role' AND d.id = lr.role_id AND d.deleted_at IS NOT NULL
         WHERE lr.guild_id = :g"""), {"g": guild_id})}


def table_from(rows_: Sequence[Row], mode: str, *, skip: set[int] | frozenset[int] = frozenset()) -> LevelRoleTable:
    ladders: dict[str, list[tuple[int, int]]] = {}
    for r in sorted(rows_, key=lambda r: (r.currency, r.level)):
        if r.role_id not in skip:
            ladders.setdefault(r.currency, []).append((r.level, r.role_id))
    return LevelRoleTable({k: tuple(v) for k, v in ladders.items()}, mode if mode in ("stack", "replace") else "stack")


def load_table(conn: Connection, guild_id: int, rule_settings: str | None) -> LevelRoleTable:
    """The table the engine compiles: deleted roles left out; the mode from the settings fragment's JSON."""
    mode = (json.loads(rule_settings) if rule_settings else {}).get("level_role_mode", "stack")
    return table_from(rows(conn, guild_id), str(mode), skip=deleted_roles(conn, guild_id))


def rule_settings(conn: Connection, guild_id: int) -> str | None:
    """The settings fragment the rules read (``FINGERPRINT``'s ``rule_settings``), for ``load_table``/``rule_texts``."""
    value = conn.execute(text("SELECT " + RULE_SETTINGS.format(g=":g")), {"g": guild_id}).scalar()
    return None if value is None else str(value)


def rule_texts(rule_settings: str | None) -> dict[str, str]:
    """The template settings from the fingerprint fragment's JSON (absent ones: the effect's own text)."""
    values = json.loads(rule_settings) if rule_settings else {}
    # Stored before templates were checked at save time, a bad one would fail every announcement: skipped.
    return {k: v for k in ("levelup_template", "milestone_template")
            if isinstance(v := values.get(k), str) and v and not template_errors(v, TEMPLATE_PLACEHOLDERS[k])}
