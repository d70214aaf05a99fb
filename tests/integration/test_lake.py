"""The Event Lake appends idempotently and hands back only what is new."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

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


def _totals(conn: sa.Connection) -> dict[tuple[int, int, str, str], tuple[int, Decimal]]:
    rows = conn.execute(sa.text("SELECT guild_id, user_id, event_type, field, events, total FROM member_event_totals"))
    return {(r.guild_id, r.user_id, r.event_type, r.field): (r.events, r.total) for r in rows}


def _tick(n: int, user: int, payload: dict[str, object]) -> Event:
    return Event("synapse", f"voice_tick:{n}", "voice_tick", 1, user, 9, T0 + timedelta(minutes=n), payload)


def test_member_totals_follow_appends_replays_and_erasure(engine: sa.Engine) -> None:
    """Each member's lifetime count per event type, and the sums of the voice events' numeric fields, move
    with every new lake row (a replay adds nothing, a member-less event counts for nobody); an erasure
    takes the member's totals with their events and leaves the others'; a TRUNCATE of the lake, all."""
    batch = [_event(n) for n in range(6)] + [
        _tick(1, 100, {"minutes": 5, "members_in_channel": 3, "self_deaf": True}),
        _tick(2, 100, {"members_in_channel": 2}),            # no minutes: counted, not summed
        _tick(3, 101, {"minutes": 2.5, "label": "x"}),
        Event("discord", "guild_update:1", "guild_update", 1, None, None, T0, {"n": 1})]
    with engine.begin() as conn:
        lake_store.append(conn, batch)
        lake_store.append(conn, batch)   # redelivered: nothing new, nothing counted
    with engine.connect() as conn:
        totals = _totals(conn)
    assert totals == {
        # message_create's numeric ``length`` is not summed: only the voice events' fields are
        (1, 100, "message_create", ""): (2, 0), (1, 101, "message_create", ""): (2, 0),
        (1, 102, "message_create", ""): (2, 0),
        (1, 100, "voice_tick", ""): (2, 0), (1, 100, "voice_tick", "minutes"): (1, 5),
        (1, 100, "voice_tick", "members_in_channel"): (2, 5),
        (1, 101, "voice_tick", ""): (1, 0), (1, 101, "voice_tick", "minutes"): (1, Decimal("2.5"))}
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synapse.erasure = 'on'"))
        conn.execute(sa.text("DELETE FROM event_lake WHERE guild_id = 1 AND user_id = 100"))
    with engine.connect() as conn:
        assert _totals(conn) == {k: v for k, v in totals.items() if k[1] != 100}
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE event_lake"))
    with engine.connect() as conn:
        assert _totals(conn) == {}
