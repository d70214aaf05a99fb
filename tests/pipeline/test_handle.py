"""The one ingest path (``services.ingest.handle``): one lock step, one write phase, voice sessions included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.clock import FixedClock
from synapse.db.changeset import Mispredicted, write
from synapse.eventlake.envelope import encode_envelope
from synapse.processing.changes import ChangeSet
from synapse.processing.voice import Changes, Closed
from synapse.services import ingest, voice
from synapse.services.voice_timer import credit_open_sessions
from tests.pipeline.conftest import GUILD, T0, Stack
from tests.pipeline.test_voice import GAMING, LOUNGE, A, B, ev, rows

NOW = T0 + timedelta(days=1)


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        seen.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def locks(seen: list[tuple[str, Any]]) -> list[int]:
    """The number of member keys each lock statement took."""
    return [len(p["keys"]) for s, p in seen if "pg_advisory_xact_lock" in s]


def session_writes(seen: list[tuple[str, Any]]) -> list[str]:
    """Statements that write voice_sessions on their own (outside the one writer's two statements)."""
    return [s for s, _ in seen if s.lstrip().startswith(("UPDATE voice_sessions", "INSERT INTO voice_sessions"))]


def test_a_message_locks_its_members_once_and_writes_sessions_with_the_changeset(stack: Stack) -> None:
    """A join, a move and a message: one lock statement naming both members, the sessions written by the
    changeset writer (no voice statement of its own), the XP and the sessions as the events say."""
    message = {"source_system": "discord", "source_event_id": "m1", "event_type": "message_create",
               "guild_id": str(GUILD), "user_id": str(B), "channel_id": str(LOUNGE),
               "occurred_at": (T0 + timedelta(minutes=1)).isoformat(), "payload": {"length": 40},
               "actor": {"name": "b", "roles": []}}
    with statements(stack.engine) as seen:
        result = ingest.handle(encode_envelope([ev("voice_join", A, T0, channel_id=LOUNGE), message,
                                                ev("voice_move", A, T0 + timedelta(minutes=20), channel_id=GAMING,
                                                   from_channel_id=LOUNGE)]),
                               stack.engine, clock=FixedClock(NOW))
    assert locks(seen) == [2]
    assert session_writes(seen) == []
    assert result.new == 3 and result.postings > 0
    sessions = rows(stack, "SELECT user_id, channel_id, end_reason FROM voice_sessions ORDER BY id")
    assert [(r.user_id, r.channel_id, r.end_reason) for r in sessions] == [(A, LOUNGE, "moved"), (A, GAMING, None)]
    ticks = rows(stack, "SELECT count(*) AS n FROM event_lake WHERE event_type = 'voice_tick' AND user_id = :u", u=A)
    assert ticks[0].n == 4   # 20 minutes in the lounge, blocks of 5


def test_the_voice_timer_takes_the_same_single_lock_step(stack: Stack) -> None:
    """The timer's chunk: one lock statement for its members, the ticks written with the changeset, paid once."""
    ingest.handle(encode_envelope([ev("voice_join", A, T0, channel_id=LOUNGE),
                                   ev("voice_join", B, T0, channel_id=LOUNGE)]), stack.engine,
                  clock=FixedClock(T0 + timedelta(seconds=5)))
    with statements(stack.engine) as seen:
        report = credit_open_sessions(stack.engine, clock=FixedClock(T0 + timedelta(minutes=11)))
    assert locks(seen) == [2]
    assert session_writes(seen) == []
    assert report.sessions == 2 and report.ticks == 4 and report.postings > 0
    assert {r.last_tick_at for r in rows(stack, "SELECT last_tick_at FROM voice_sessions")} == {
        T0 + timedelta(minutes=10)}
    again = credit_open_sessions(stack.engine, clock=FixedClock(T0 + timedelta(minutes=11)))
    assert again.ticks == 0 and again.postings == 0


def test_voice_changes_alone_are_written_and_a_missing_session_is_refused(stack: Stack) -> None:
    """A ChangeSet holding only voice changes closes the stored session; closing one that is not stored
    raises Mispredicted (the transaction rolls back, the session stays open)."""
    ingest.handle(encode_envelope([ev("voice_join", A, T0, channel_id=LOUNGE)]), stack.engine,
                  clock=FixedClock(T0 + timedelta(seconds=5)))
    with stack.engine.connect() as conn:
        (session,) = voice.open_sessions(conn, guild_id=GUILD)
    with pytest.raises(Mispredicted, match="voice session"), stack.engine.begin() as conn:
        write(conn, ChangeSet(GUILD, voice=Changes(closed=(
            Closed(GUILD, session.id, T0 + timedelta(minutes=3), "left"),
            Closed(GUILD, session.id + 999, T0 + timedelta(minutes=3), "left")))))
    assert rows(stack, "SELECT ended_at FROM voice_sessions")[0].ended_at is None
    with stack.engine.begin() as conn:
        assert write(conn, ChangeSet(GUILD, voice=Changes(closed=(
            Closed(GUILD, session.id, T0 + timedelta(minutes=3), "left"),)))) == []
    (stored,) = rows(stack, "SELECT ended_at, end_reason FROM voice_sessions")
    assert (stored.ended_at, stored.end_reason) == (T0 + timedelta(minutes=3), "left")
