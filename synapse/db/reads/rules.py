"""Rules as the editor lists them: the current row of each rule and its saved versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.errors import NotFound


@dataclass(frozen=True)
class RuleRow:
    rule_id: int
    version: int
    name: str
    enabled: bool
    module: str
    priority: int
    trigger_event: str
    definition: dict[str, Any]


@dataclass(frozen=True)
class RuleVersion:
    version: int
    definition: dict[str, Any]
    created_by: int | None
    created_at: datetime


_COLUMNS = "rule_id, version, name, enabled, module, priority, trigger_event, definition"


def _row(r: Any) -> RuleRow:
    return RuleRow(r.rule_id, r.version, r.name, r.enabled, r.module, r.priority, r.trigger_event, r.definition)


def list_rules(conn: Connection, guild_id: int) -> list[RuleRow]:
    """Every rule not deleted, in evaluation order (priority, then id)."""
    rows = conn.execute(text(f"SELECT {_COLUMNS} FROM rules WHERE guild_id = :g AND deleted_at IS NULL "
                             "ORDER BY priority, rule_id"), {"g": guild_id})
    return [_row(r) for r in rows]


def rule(conn: Connection, guild_id: int, rule_id: int) -> RuleRow:
    """The current row of a rule; :class:`NotFound` for an unknown or deleted one."""
    r = conn.execute(text(f"SELECT {_COLUMNS} FROM rules WHERE guild_id = :g AND rule_id = :r "
                          "AND deleted_at IS NULL"), {"g": guild_id, "r": rule_id}).first()
    if r is None:
        raise NotFound(f"no rule {rule_id} in guild {guild_id}")  # as rules_store says it
    return _row(r)


def versions(conn: Connection, guild_id: int, rule_id: int) -> list[RuleVersion]:
    """A rule's saved versions, newest first."""
    rows = conn.execute(text("""SELECT version, definition, created_by, created_at FROM rule_versions
                                 WHERE guild_id = :g AND rule_id = :r ORDER BY version DESC"""),
                        {"g": guild_id, "r": rule_id})
    return [RuleVersion(v.version, v.definition, None if v.created_by is None else int(v.created_by), v.created_at)
            for v in rows]
