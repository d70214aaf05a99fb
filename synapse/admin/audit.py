"""The pattern every admin mutation follows: change and ``admin_log`` row in one transaction.

Callers pass the open connection of their unit of work; if anything after the
audit row fails, the transaction rolls back and neither the change nor its
audit row survive. ``before``/``after`` are JSON snapshots of the entity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class Actor:
    """Who made a change: a Discord user (dashboard, slash command), the CLI, or Synapse itself."""

    kind: Literal["user", "cli", "system", "token"] = "system"
    id: int | None = None
    request_id: str | None = None

    @classmethod
    def user(cls, user_id: int, request_id: str | None = None) -> Actor:
        return cls("user", user_id, request_id)


SYSTEM = Actor("system")
CLI = Actor("cli")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int) and abs(value) >= 2**53:
        return str(value)  # snowflakes stay exact in JSON
    return value


def record(conn: Connection, *, guild_id: int, actor: Actor, action: str, entity_type: str,
           entity_id: str | int = "", before: Any = None, after: Any = None) -> int:
    """Insert the audit row for a change made in this same transaction; return its id."""
    row = conn.execute(text("""
        INSERT INTO admin_log (guild_id, actor_id, actor_kind, action, entity_type, entity_id,
                               before, after, request_id)
        VALUES (:g, :actor_id, :actor_kind, :action, :entity_type, :entity_id,
                CAST(:before AS jsonb), CAST(:after AS jsonb), :request_id)
        RETURNING id"""), {
        "g": guild_id, "actor_id": actor.id, "actor_kind": actor.kind, "action": action,
        "entity_type": entity_type, "entity_id": str(entity_id),
        "before": None if before is None else json.dumps(_jsonable(before)),
        "after": None if after is None else json.dumps(_jsonable(after)),
        "request_id": actor.request_id,
    }).scalar_one()
    return int(row)
