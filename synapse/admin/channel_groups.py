"""Regions and taxonomy tags: named sets of channels that rules and analytics refer to. Audited.

Both tables have the same shape (``key``, ``name``, ``description``, ``channel_ids``); a region
groups channels by place ("study halls"), a tag by purpose ("help", "showcase"). Saving one
bumps the guild's rules version, so workers re-read what rule conditions match.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.db.rules_store import bump_rules_version
from synapse.errors import Conflict, ErrorDetail, NotFound, ValidationFailed

Kind = Literal["regions", "taxonomy"]
ENTITY = {"regions": "region", "taxonomy": "tag"}


class ChannelGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="Stable id used in rules, e.g. study-halls")
    name: str = Field(min_length=1, max_length=60)
    description: str = Field("", max_length=300)
    channel_ids: list[str] = Field(default_factory=list, max_length=500, description="Channel ids (strings)")

    @field_validator("channel_ids")
    @classmethod
    def _snowflakes(cls, value: list[str]) -> list[str]:
        for item in value:
            if not item.isdigit() or len(item) > 19 or int(item) == 0 or int(item) >= 2**63:
                raise ValueError(f"{item!r} is not a channel id")
        return sorted(set(value), key=int)


def _validate(data: dict[str, Any]) -> ChannelGroup:
    try:
        return ChannelGroup.model_validate(data)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic("invalid channel group", exc) from None


def _row(r: Any) -> dict[str, Any]:
    return {"key": r.key, "name": r.name, "description": r.description,
            "channel_ids": [str(c) for c in (r.channel_ids or [])]}


def list_all(conn: Connection, kind: Kind, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text(f"SELECT * FROM {kind} WHERE guild_id = :g ORDER BY key"), {"g": guild_id})
    return [_row(r) for r in rows]


def get(conn: Connection, kind: Kind, guild_id: int, key: str) -> dict[str, Any]:
    r = conn.execute(text(f"SELECT * FROM {kind} WHERE guild_id = :g AND key = :k"), {"g": guild_id, "k": key}).first()
    if r is None:
        raise NotFound(f"no {ENTITY[kind]} {key!r}")
    return _row(r)


def create(conn: Connection, kind: Kind, guild_id: int, data: dict[str, Any], *, actor: Actor) -> dict[str, Any]:
    spec = _validate(data)
    done = conn.execute(text(f"""
        INSERT INTO {kind} (guild_id, key, name, description, channel_ids)
        VALUES (:g, :k, :n, :d, CAST(:c AS bigint[])) ON CONFLICT DO NOTHING"""),
        {"g": guild_id, "k": spec.key, "n": spec.name, "d": spec.description,
         "c": [int(c) for c in spec.channel_ids]}).rowcount
    if not done:
        raise Conflict(f"{ENTITY[kind]} {spec.key!r} already exists", hint="update it instead")
    bump_rules_version(conn, guild_id)
    after = spec.model_dump()
    record(conn, guild_id=guild_id, actor=actor, action=f"{ENTITY[kind]}.create", entity_type=ENTITY[kind],
           entity_id=spec.key, after=after)
    return after


def update(conn: Connection, kind: Kind, guild_id: int, key: str, changes: dict[str, Any], *,
           actor: Actor) -> dict[str, Any]:
    before = get(conn, kind, guild_id, key)
    if "key" in changes and changes["key"] != key:
        raise ValidationFailed("invalid change", [ErrorDetail("key", "a key cannot change")])
    spec = _validate({**before, **changes})
    conn.execute(text(f"""UPDATE {kind} SET name = :n, description = :d, channel_ids = CAST(:c AS bigint[])
                           WHERE guild_id = :g AND key = :k"""),
                 {"g": guild_id, "k": key, "n": spec.name, "d": spec.description,
                  "c": [int(c) for c in spec.channel_ids]})
    bump_rules_version(conn, guild_id)
    after = spec.model_dump()
    record(conn, guild_id=guild_id, actor=actor, action=f"{ENTITY[kind]}.update", entity_type=ENTITY[kind],
           entity_id=key, before=before, after=after)
    return after


def delete(conn: Connection, kind: Kind, guild_id: int, key: str, *, actor: Actor) -> None:
    before = get(conn, kind, guild_id, key)
    conn.execute(text(f"DELETE FROM {kind} WHERE guild_id = :g AND key = :k"), {"g": guild_id, "k": key})
    bump_rules_version(conn, guild_id)
    record(conn, guild_id=guild_id, actor=actor, action=f"{ENTITY[kind]}.delete", entity_type=ENTITY[kind],
           entity_id=key, before=before)
