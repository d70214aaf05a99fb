"""The audit log, read back: filter by actor, entity, action and time; newest first, keyset pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text


def audit_log(conn: Connection, guild_id: int, *, actor_id: int | None = None, entity_type: str | None = None,
              entity_id: str | None = None, action: str | None = None, since: datetime | None = None,
              until: datetime | None = None, before_id: int | None = None, limit: int = 50) -> dict[str, Any]:
    rows = conn.execute(text("""
        SELECT id, actor_id, actor_kind, action, entity_type, entity_id, before, after, request_id, created_at
          FROM admin_log
         WHERE guild_id = :g
           AND (CAST(:actor AS bigint) IS NULL OR actor_id = :actor)
           AND (CAST(:etype AS text) IS NULL OR entity_type = :etype)
           AND (CAST(:eid AS text) IS NULL OR entity_id = :eid)
           AND (CAST(:action AS text) IS NULL OR action = :action)
           AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since)
           AND (CAST(:until AS timestamptz) IS NULL OR created_at < :until)
           AND (CAST(:before AS bigint) IS NULL OR id < :before)
         ORDER BY id DESC LIMIT :n"""),
        {"g": guild_id, "actor": actor_id, "etype": entity_type, "eid": entity_id, "action": action,
         "since": since, "until": until, "before": before_id, "n": limit + 1}).all()
    items = [{"id": int(r.id), "actor_id": None if r.actor_id is None else str(r.actor_id),
              "actor_kind": r.actor_kind, "action": r.action, "entity_type": r.entity_type,
              "entity_id": r.entity_id, "before": r.before, "after": r.after, "request_id": r.request_id,
              "created_at": r.created_at} for r in rows[:limit]]
    return {"items": items, "next_before": items[-1]["id"] if len(rows) > limit and items else None}
