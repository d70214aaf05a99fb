"""Voice sessions from voice events, derived session ends and ticks, the tick timer, stale sessions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.clock import FixedClock
from synapse.eventlake.envelope import encode_envelope
from synapse.services import voice
from synapse.services.ingest import handle
from synapse.services.voice_timer import credit_open_sessions
from synapse.simulate.community import iso
from tests.pipeline.conftest import GUILD, T0, Stack

A, B, C = 501, 502, 503
LOUNGE, GAMING = 9001, 9002


def ev(kind: str, user: int | None, at: datetime, **payload: Any) -> dict[str, Any]:
    channel = payload.get("channel_id")
    key = (f"voice_state_snapshot:{GUILD}:{iso(at)}" if kind == "voice_state_snapshot"
           else f"{kind}:{user}:{channel}:{iso(at)}")
    return {"source_system": "discord", "source_event_id": key, "event_type": kind, "guild_id": str(GUILD),
            "user_id": None if user is None else str(user), "channel_id": None if channel is None else str(channel),
            "occurred_at": iso(at), "payload": {k: str(v) if k.endswith("channel_id") else v
                                                for k, v in payload.items()},
            "actor": None if user is None else {"name": f"m{user}", "roles": []}}


def ingest(stack: Stack, *events: dict[str, Any], now: datetime | None = None) -> Any:
    clock = FixedClock(now or T0 + timedelta(days=1))
    return handle(encode_envelope(list(events)), stack.engine, clock=clock)


def rows(stack: Stack, sql: str, **params: Any) -> list[Any]:
    with stack.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def xp(stack: Stack, user: int) -> int:
    found = rows(stack, "SELECT balance FROM wallets WHERE user_id = :u AND currency_key = 'xp'", u=user)
    return int(found[0].balance) if found else 0


def test_join_and_leave_close_a_session_with_its_duration_and_ticks(stack: Stack) -> None:
    """Two members talk 23 min: sessions closed, voice_session_end carries the duration, ticks pay the minutes."""
    t = T0
    ingest(stack, ev("voice_join", A, t, channel_id=LOUNGE), ev("voice_join", B, t + timedelta(seconds=30),
                                                                 channel_id=LOUNGE))
    ingest(stack, ev("voice_leave", A, t + timedelta(minutes=23, seconds=10), channel_id=LOUNGE),
           ev("voice_leave", B, t + timedelta(minutes=23, seconds=20), channel_id=LOUNGE))
    sessions = rows(stack, "SELECT user_id, ended_at - started_at AS d, end_reason FROM voice_sessions ORDER BY 1")
    assert [(r.user_id, r.d, r.end_reason) for r in sessions] == [
        (A, timedelta(minutes=23, seconds=10), "left"), (B, timedelta(minutes=22, seconds=50), "left")]
    ends = rows(stack, "SELECT user_id, payload FROM event_lake WHERE event_type = 'voice_session_end' ORDER BY 1")
    assert [(r.user_id, r.payload["duration_seconds"]) for r in ends] == [(A, 1390), (B, 1370)]
    ticks = rows(stack, "SELECT user_id, payload FROM event_lake WHERE event_type = 'voice_tick' ORDER BY 1, id")
    assert sum(r.payload["minutes"] for r in ticks if r.user_id == A) == 23
    assert sum(r.payload["minutes"] for r in ticks if r.user_id == B) == 22
    assert all(r.payload["members_in_channel"] == 2 for r in ticks)
    assert xp(stack, A) == 23 * 5 and xp(stack, B) == 22 * 5  # default pack: 5 XP a minute with company


def test_alone_or_deafened_earns_nothing(stack: Stack) -> None:
    """A member idling alone (the voice farmer) has ticks with members_in_channel 1 and earns no XP."""
    ingest(stack, ev("voice_join", C, T0, channel_id=GAMING, self_deaf=True),
           ev("voice_leave", C, T0 + timedelta(hours=3), channel_id=GAMING))
    ticks = rows(stack, "SELECT payload FROM event_lake WHERE event_type = 'voice_tick'")
    assert sum(r.payload["minutes"] for r in ticks) == 180
    assert {r.payload["members_in_channel"] for r in ticks} == {1}
    assert xp(stack, C) == 0


def test_move_closes_one_session_and_opens_the_next(stack: Stack) -> None:
    """voice_move ends the stay in the old channel and starts one in the new."""
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE),
           ev("voice_move", A, T0 + timedelta(minutes=10), channel_id=GAMING, from_channel_id=LOUNGE))
    sessions = rows(stack, "SELECT channel_id, ended_at, end_reason FROM voice_sessions ORDER BY started_at")
    assert [(s.channel_id, s.end_reason) for s in sessions] == [(LOUNGE, "moved"), (GAMING, None)]
    assert sessions[1].ended_at is None


def test_leave_arriving_before_its_join_still_closes_the_session(stack: Stack) -> None:
    """Out-of-order delivery: the late join finds the later leave in the lake and ends there."""
    ingest(stack, ev("voice_leave", A, T0 + timedelta(minutes=12), channel_id=LOUNGE))
    assert rows(stack, "SELECT * FROM voice_sessions") == []
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE))
    (session,) = rows(stack, "SELECT ended_at - started_at AS d, end_reason FROM voice_sessions")
    assert (session.d, session.end_reason) == (timedelta(minutes=12), "late_join")


def test_snapshot_closes_absent_members_and_opens_present_ones(stack: Stack) -> None:
    """After a relay restart the snapshot is the truth: sessions of members gone are closed, new ones opened."""
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    at = T0 + timedelta(minutes=40)
    ingest(stack, ev("voice_state_snapshot", None, at, members=[
        {"user_id": str(B), "channel_id": str(LOUNGE), "self_mute": False, "self_deaf": False},
        {"user_id": str(C), "channel_id": str(GAMING), "self_mute": False, "self_deaf": False}]))
    sessions = {(r.user_id, r.channel_id): r for r in rows(stack, "SELECT * FROM voice_sessions")}
    assert sessions[(A, LOUNGE)].ended_at == at and sessions[(A, LOUNGE)].end_reason == "snapshot"
    assert sessions[(B, LOUNGE)].ended_at is None
    assert sessions[(C, GAMING)].ended_at is None and sessions[(C, GAMING)].started_at == at


def test_tick_timer_pays_open_sessions_once_whatever_its_rhythm(stack: Stack) -> None:
    """Ticks paid by the timer (run at odd times, twice) and by the leave add up to the stay, never more."""
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    for minutes in (3, 7, 7, 16, 31):
        credit_open_sessions(stack.engine, clock=FixedClock(T0 + timedelta(minutes=minutes, seconds=5)))
    assert xp(stack, A) == 30 * 5  # six complete 5-minute blocks
    ingest(stack, ev("voice_leave", A, T0 + timedelta(minutes=33), channel_id=LOUNGE),
           now=T0 + timedelta(minutes=33))
    assert xp(stack, A) == 33 * 5
    keys = [r.source_event_id for r in rows(stack, "SELECT source_event_id FROM event_lake "
                                                   "WHERE event_type = 'voice_tick' AND user_id = :u", u=A)]
    assert len(keys) == len(set(keys)) == 7


def test_stale_session_is_closed_and_paid_up_to_the_limit(stack: Stack) -> None:
    """A session whose leave was lost is closed by the timer after 12 h, paid no further."""
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    report = credit_open_sessions(stack.engine, clock=FixedClock(T0 + timedelta(hours=20)))
    assert report.closed == 2
    (a,) = rows(stack, "SELECT ended_at, end_reason FROM voice_sessions WHERE user_id = :u", u=A)
    assert (a.ended_at, a.end_reason) == (T0 + voice.MAX_SESSION, "stale")
    ticks = rows(stack, "SELECT payload FROM event_lake WHERE event_type = 'voice_tick' AND user_id = :u", u=A)
    assert sum(r.payload["minutes"] for r in ticks) == 12 * 60


def test_a_busy_envelope_writes_what_one_event_per_envelope_writes(stack: Stack) -> None:
    """Sessions opened, moved and closed within one envelope (written once, at its end) count each other as
    company exactly as when every event comes alone: the same sessions, the same ticks."""
    story = [ev("voice_join", A, T0, channel_id=LOUNGE),
             ev("voice_join", B, T0 + timedelta(minutes=2), channel_id=LOUNGE),
             ev("voice_join", C, T0 + timedelta(minutes=4), channel_id=GAMING),
             ev("voice_move", B, T0 + timedelta(minutes=9), channel_id=GAMING, from_channel_id=LOUNGE),
             ev("voice_join", B, T0 + timedelta(minutes=9), channel_id=GAMING),   # a duplicate report: rejoined
             ev("voice_leave", A, T0 + timedelta(minutes=17), channel_id=LOUNGE),
             ev("voice_move", A, T0 + timedelta(minutes=21), channel_id=GAMING),    # a move with no open session
             ev("voice_leave", C, T0 + timedelta(minutes=26), channel_id=GAMING),
             ev("voice_leave", B, T0 + timedelta(minutes=31), channel_id=GAMING)]
    together, alone = _together_and_alone(stack, story)
    assert together == alone
    assert len(together["sessions"]) == 6
    assert {company for _, _, company in together["derived"] if company is not None} == {1, 2, 3}


def test_a_snapshot_inside_a_busy_envelope_sees_the_sessions_opened_before_it(stack: Stack) -> None:
    """A snapshot reads the stored sessions mid-envelope: the sessions opened earlier in the envelope are
    written first (their provisional ids replaced), and later events of the envelope still find them."""
    at = T0 + timedelta(minutes=10)
    story = [ev("voice_join", A, T0, channel_id=LOUNGE),
             ev("voice_join", B, T0 + timedelta(minutes=2), channel_id=LOUNGE),
             ev("voice_state_snapshot", None, at, members=[{"user_id": str(B), "channel_id": str(LOUNGE)},
                                                          {"user_id": str(C), "channel_id": str(GAMING)}]),
             ev("voice_leave", B, T0 + timedelta(minutes=18), channel_id=LOUNGE),
             ev("voice_leave", C, T0 + timedelta(minutes=27), channel_id=GAMING)]
    together, alone = _together_and_alone(stack, story)
    assert together == alone
    ends = [(user, reason) for user, _, _, _, reason, _ in together["sessions"]]
    assert ends == [(A, "snapshot"), (B, "left"), (C, "left")], "one session each, closed by what closed it"


def _together_and_alone(stack: Stack, story: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the story writes in one envelope (in GUILD) and with one event per envelope (in the next guild)."""
    ingest(stack, *story)
    for e in story:
        ingest(stack, {**e, "guild_id": str(GUILD + 1)})
    return _written(stack, GUILD), _written(stack, GUILD + 1)


def _written(stack: Stack, guild: int) -> dict[str, Any]:
    return {
        "sessions": sorted((r.user_id, r.channel_id, r.started_at, r.ended_at, r.end_reason, r.last_tick_at)
                           for r in rows(stack, "SELECT * FROM voice_sessions WHERE guild_id = :g", g=guild)),
        "derived": sorted((r.source_event_id, r.payload.get("minutes"), r.payload.get("members_in_channel"))
                          for r in rows(stack, "SELECT source_event_id, payload FROM event_lake WHERE guild_id = :g"
                                               " AND source_system = 'synapse' AND event_type LIKE 'voice%'",
                                        g=guild))}


@pytest.mark.parametrize("stored", [False, True], ids=["opened-in-the-book", "stored"])
def test_a_session_the_book_has_closed_earns_no_more_ticks(stack: Stack, stored: bool) -> None:
    """A tick given a stale (still open) view of a session since closed changes nothing: the close is
    written as it was, whether the session was opened and closed in one message or stored open first."""
    join, leave = ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_leave", A, T0 + timedelta(minutes=20),
                                                                 channel_id=LOUNGE)
    if stored:
        ingest(stack, join)
        with stack.engine.connect() as conn:
            [session] = voice.open_sessions(conn)   # what the timer read, before the leave came
        ingest(stack, leave)
    else:
        ingest(stack, join, leave)
        [row] = rows(stack, "SELECT * FROM voice_sessions WHERE user_id = :u", u=A)
        session = voice.Session(row.guild_id, row.id, row.user_id, row.channel_id, row.started_at, None, None,
                                row.self_mute, row.self_deaf)
    with stack.engine.begin() as conn:
        derived = voice.tick_sessions(conn, [session], now=T0 + timedelta(hours=1))
    assert len(derived) == 0, "no ticks past the close"
    [row] = rows(stack, "SELECT ended_at, end_reason, last_tick_at FROM voice_sessions WHERE user_id = :u", u=A)
    assert (row.ended_at, row.end_reason, row.last_tick_at) == (T0 + timedelta(minutes=20), "left",
                                                                T0 + timedelta(minutes=20))


def test_a_split_snapshot_closes_absent_members_once_its_last_part_is_in(stack: Stack) -> None:
    """A snapshot in two parts (two messages): the first opens its members and closes nobody; the second,
    finding the first part in the lake, closes the member neither part lists."""
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    at = T0 + timedelta(minutes=30)
    base = f"voice_state_snapshot:{GUILD}:{iso(at)}"
    part1 = {**ev("voice_state_snapshot", None, at, members=[{"user_id": str(C), "channel_id": str(GAMING)}],
                  part=1, parts=2), "source_event_id": f"{base}:1/2"}
    part2 = {**ev("voice_state_snapshot", None, at, members=[{"user_id": str(B), "channel_id": str(LOUNGE)}],
                  part=2, parts=2), "source_event_id": f"{base}:2/2"}
    ingest(stack, part1)
    assert [(r.user_id, r.ended_at) for r in rows(stack, "SELECT * FROM voice_sessions ORDER BY user_id")] == [
        (A, None), (B, None), (C, None)]
    ingest(stack, part2)
    assert [(r.user_id, r.ended_at, r.end_reason)
            for r in rows(stack, "SELECT * FROM voice_sessions ORDER BY user_id")] == [
        (A, at, "snapshot"), (B, None, None), (C, None, None)]


def test_a_busy_envelope_costs_one_read_and_two_writes(stack: Stack) -> None:
    """Whatever an envelope does to sessions, voice.apply asks the database once and writes twice; the timer
    asks once and writes once per chunk."""
    from synapse.db import lake_store
    from synapse.eventlake.envelope import decode_envelope

    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    story = [ev("voice_join", C, T0 + timedelta(minutes=4), channel_id=GAMING),
             ev("voice_move", B, T0 + timedelta(minutes=9), channel_id=GAMING, from_channel_id=LOUNGE),
             ev("voice_state_snapshot", None, T0 + timedelta(minutes=12), members=[
                 {"user_id": str(B), "channel_id": str(GAMING)}, {"user_id": str(C), "channel_id": str(GAMING)}]),
             ev("voice_join", A, T0 + timedelta(minutes=14), channel_id=LOUNGE),
             ev("voice_leave", C, T0 + timedelta(minutes=26), channel_id=GAMING)]
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with stack.engine.begin() as conn:
        new = lake_store.append(conn, decode_envelope(encode_envelope(story)))
        sa.event.listen(conn, "before_cursor_execute", seen)
        derived = voice.apply(conn, new, now=T0 + timedelta(minutes=30))
        sa.event.remove(conn, "before_cursor_execute", seen)
    assert [s.split()[0] for s in statements] == ["WITH", "UPDATE", "INSERT"]
    assert {e.event_type for e in derived} == {"voice_tick", "voice_session_end"}
    statements.clear()
    with stack.engine.begin() as conn:
        sessions = voice.open_sessions(conn, guild_id=GUILD)
        sa.event.listen(conn, "before_cursor_execute", seen)
        ticks = voice.tick_sessions(conn, sessions, now=T0 + timedelta(minutes=45))
        sa.event.remove(conn, "before_cursor_execute", seen)
    assert [s.user_id for s in sessions] == [A, B] and ticks
    assert [s.split()[0] for s in statements] == ["WITH", "UPDATE"]


def test_a_guild_without_rules_still_stores_voice_derived_events_once(stack: Stack) -> None:
    """With every module off no rule runs and no loader reserves ids: ingest appends voice's session end
    and ticks itself, reports what it stored, and a redelivery stores nothing twice."""
    ingest(stack, ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    with stack.engine.begin() as conn:
        conn.execute(sa.text("UPDATE modules SET enabled = false WHERE guild_id = :g"), {"g": GUILD})
    leave = ev("voice_leave", A, T0 + timedelta(minutes=12), channel_id=LOUNGE)
    result = ingest(stack, leave)
    stored = rows(stack, "SELECT event_type, payload FROM event_lake WHERE user_id = :u "
                         "AND event_type IN ('voice_tick', 'voice_session_end')", u=A)
    assert result.closed == 1 and result.ticks == sum(1 for r in stored if r.event_type == "voice_tick") > 0
    assert result.derived == len(stored)
    assert sum(r.payload["minutes"] for r in stored if r.event_type == "voice_tick") == 12
    assert xp(stack, A) == 0   # no rule ran
    again = ingest(stack, leave)
    assert again.new == 0
    assert len(rows(stack, "SELECT id FROM event_lake WHERE user_id = :u AND event_type IN "
                           "('voice_tick', 'voice_session_end')", u=A)) == len(stored)
