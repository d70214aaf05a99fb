"""The Event Lake appends idempotently and hands back only what is new."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from synapse.db import lake_store
from synapse.eventlake.events import Event

T0 = datetime(2025, 1, 15, 14, 30, tzinfo=UTC)


def _event(n: int, guild: int = 1) -> Event:
    return Event("discord", f"message_create:{n}", "message_create", guild, 100 + n % 3, 456,
                 T0 + timedelta(seconds=n), {"length": n})


def test_append_returns_only_new_events(engine: sa.Engine) -> None:
    """Replaying a batch inserts nothing and returns nothing; a partly new batch returns the new part."""
    with engine.begin() as conn:
        first = lake_store.append(conn, [_event(n) for n in range(5)])
    assert [e.source_event_id for e in first] == [f"message_create:{n}" for n in range(5)]
    assert all(e.id is not None for e in first)
    with engine.begin() as conn:
        assert lake_store.append(conn, [_event(n) for n in range(5)]) == []
        again = lake_store.append(conn, [_event(n) for n in range(3, 8)])
        assert [e.source_event_id for e in again] == ["message_create:5", "message_create:6", "message_create:7"]
        assert lake_store.count(conn, 1) == 8


def test_duplicates_inside_one_batch_and_across_guilds(engine: sa.Engine) -> None:
    """The same key twice in a batch is stored once; the same key in another guild is another event."""
    with engine.begin() as conn:
        fresh = lake_store.append(conn, [_event(1), _event(1), _event(1, guild=2)])
    assert [(e.guild_id, e.source_event_id) for e in fresh] == [(1, "message_create:1"), (2, "message_create:1")]


def test_lake_is_append_only(engine: sa.Engine) -> None:
    """UPDATE and DELETE on the lake are refused by the database itself."""
    with engine.begin() as conn:
        lake_store.append(conn, [_event(1)])
    for statement in ("UPDATE event_lake SET event_type = 'x'", "DELETE FROM event_lake"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert lake_store.count(conn, 1) == 1
