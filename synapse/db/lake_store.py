"""PostgreSQL side of the Event Lake: idempotent appends."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, text

from synapse.eventlake.events import Event

_APPEND = text("""
INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id, channel_id,
                        occurred_at, payload)
SELECT * FROM unnest(
    CAST(:guild_id AS bigint[]), CAST(:source_system AS text[]), CAST(:source_event_id AS text[]),
    CAST(:event_type AS text[]), CAST(:user_id AS bigint[]), CAST(:channel_id AS bigint[]),
    CAST(:occurred_at AS timestamptz[]), CAST(:payload AS jsonb[]))
ON CONFLICT (guild_id, source_system, source_event_id) DO NOTHING
RETURNING id, guild_id, source_system, source_event_id
""")


def event_columns(events: Sequence[Event]) -> dict[str, list[Any]]:
    """The events as the column arrays the ``unnest`` inserts take."""
    return {
        "guild_id": [e.guild_id for e in events],
        "source_system": [e.source_system for e in events],
        "source_event_id": [e.source_event_id for e in events],
        "event_type": [e.event_type for e in events],
        "user_id": [e.user_id for e in events],
        "channel_id": [e.channel_id for e in events],
        "occurred_at": [e.occurred_at for e in events],
        "payload": [json.dumps(dict(e.payload), separators=(",", ":")) for e in events],
    }


def append(conn: Connection, events: Sequence[Event]) -> list[Event]:
    """Insert events; return only those newly inserted (with ``id`` set), in input order.

    An event repeated within the batch, or already in the lake, is not returned.
    """
    if not events:
        return []
    columns = event_columns(events)
    ids = {(r.guild_id, r.source_system, r.source_event_id): r.id for r in conn.execute(_APPEND, columns)}
    fresh: list[Event] = []
    for e in events:
        event_id = ids.pop(e.key, None)
        if event_id is not None:
            fresh.append(replace(e, id=event_id))
    return fresh


def insert_derived(conn: Connection, events: Sequence[Event]) -> list[Event]:
    """Derived events (level_up, milestone_earned, voice_session_end…) go through the same idempotent path."""
    return append(conn, events)


def count(conn: Connection, guild_id: int) -> int:
    return int(conn.execute(text("SELECT count(*) FROM event_lake WHERE guild_id = :g"), {"g": guild_id}).scalar_one())
