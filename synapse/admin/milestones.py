"""Milestone admin beyond create/grant (``synapse.services.milestones_admin``): list, update, delete. Audited.

The retroactive grant runs through the engine, so it lives with the other milestone use cases in
``synapse.services.milestones_admin``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db import rules_store
from synapse.db.ledger_store import load_currencies
from synapse.errors import ErrorDetail, NotFound, ValidationFailed
from synapse.milestones.model import validate_milestone


def _row(r: Any, earned: int = 0) -> dict[str, Any]:
    return {"milestone_id": int(r.milestone_id), "key": r.key, "name": r.name, "description": r.description,
            "emoji": r.emoji, "criteria": r.criteria, "rewards": r.rewards, "hidden": r.hidden,
            "announce": r.announce, "enabled": r.enabled, "earned_count": earned}


def list_all(conn: Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
        SELECT m.*, (SELECT COUNT(*) FROM user_milestones um
                      WHERE um.guild_id = m.guild_id AND um.milestone_id = m.milestone_id) AS earned
          FROM milestones m WHERE m.guild_id = :g ORDER BY m.milestone_id"""), {"g": guild_id})
    return [_row(r, int(r.earned)) for r in rows]


def get(conn: Connection, guild_id: int, key: str) -> dict[str, Any]:
    r = conn.execute(text("SELECT * FROM milestones WHERE guild_id = :g AND key = :k"),
                     {"g": guild_id, "k": key}).first()
    if r is None:
        raise NotFound(f"no milestone {key!r} in this server")
    return _row(r)


def _spec_dict(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("key", "name", "description", "emoji", "criteria", "rewards", "hidden", "announce",
                              "enabled")}


def update(conn: Connection, guild_id: int, key: str, changes: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    before = get(conn, guild_id, key)
    if "key" in changes and changes["key"] != key:
        raise ValidationFailed("invalid change", [ErrorDetail("key", "a milestone's key cannot change")])
    spec = validate_milestone({**_spec_dict(before), **changes}, currencies=frozenset(load_currencies(conn, guild_id)))
    rules_store.save_milestone(conn, guild_id, spec)
    after = get(conn, guild_id, key)
    record(conn, guild_id=guild_id, actor=actor, action="milestone.update", entity_type="milestone",
           entity_id=key, before=_spec_dict(before), after=_spec_dict(after))
    return after


def delete(conn: Connection, guild_id: int, key: str, *, actor: Actor) -> None:
    """Delete a milestone definition and its earn records (members lose the badge; the ledger is untouched)."""
    before = get(conn, guild_id, key)
    earned = conn.execute(text("DELETE FROM user_milestones WHERE guild_id = :g AND milestone_id = :m"),
                          {"g": guild_id, "m": before["milestone_id"]}).rowcount
    conn.execute(text("DELETE FROM milestones WHERE guild_id = :g AND milestone_id = :m"),
                 {"g": guild_id, "m": before["milestone_id"]})
    rules_store.bump_rules_version(conn, guild_id)
    record(conn, guild_id=guild_id, actor=actor, action="milestone.delete", entity_type="milestone",
           entity_id=key, before={**_spec_dict(before), "earned_count": earned})
