"""Incremental analytics rollups: by event-id watermark, exactly once, equal to a full recount."""

from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa

from synapse.services.rollups import roll_up, safe_high
from synapse.simulate.community import SimulationConfig, envelopes, simulate
from tests.pipeline.conftest import GUILD, T0, Stack

# Voice time: 60 s per minute each tick pays (``minutes``: a block of up to 5).
VOICE = "60 * COALESCE(SUM((payload ->> 'minutes')::int) FILTER (WHERE event_type = 'voice_tick'), 0)"
RECOUNT_HOURLY = f"""
    SELECT date_trunc('hour', occurred_at) AS hour, event_type, COALESCE(channel_id, 0) AS channel_id,
           count(*) AS events, {VOICE} AS voice_seconds
      FROM event_lake WHERE guild_id = :g GROUP BY 1, 2, 3"""
RECOUNT_DAILY = f"""
    SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS day, user_id,
           count(*) FILTER (WHERE event_type = 'message_create') AS messages,
           count(*) FILTER (WHERE event_type = 'reaction_add') AS reactions,
           {VOICE} AS voice_seconds,
           count(*) FILTER (WHERE event_type NOT IN ('voice_tick', 'level_up', 'milestone_earned')) AS events
      FROM event_lake WHERE guild_id = :g AND user_id IS NOT NULL GROUP BY 1, 2"""


def table(stack: Stack, sql: str) -> set[tuple[object, ...]]:
    with stack.engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.text(sql), {"g": GUILD})}


def test_rollups_fold_each_event_once_across_runs(stack: Stack) -> None:
    """Rollups run between batches and again with nothing new equal a full recount of the lake."""
    texts = list(envelopes(simulate(SimulationConfig(seed=9, guild_id=GUILD, members=12, days=1.0,
                                                     end=T0 + timedelta(days=1)))))
    half = len(texts) // 2
    stack.send(texts[:half])
    stack.worker().drain(timeout=60)
    first = roll_up(stack.engine)
    stack.send(texts[half:])
    stack.worker().drain(timeout=60)
    second = roll_up(stack.engine)
    third = roll_up(stack.engine)
    assert first.events > 0 and second.events > 0 and third.events == 0
    total = stack.scalar("SELECT count(*) FROM event_lake WHERE guild_id = :g", g=GUILD)
    assert first.events + second.events == total
    assert table(stack, "SELECT hour, event_type, channel_id, events, voice_seconds FROM activity_hourly") == \
        table(stack, RECOUNT_HOURLY)
    assert table(stack, "SELECT day, user_id, messages, reactions, voice_seconds, events FROM member_daily") == \
        table(stack, RECOUNT_DAILY)
    ticks, minutes = stack.scalar("SELECT count(*) FROM event_lake WHERE guild_id = :g AND event_type = 'voice_tick'",
                                  g=GUILD), stack.scalar(
        "SELECT sum((payload ->> 'minutes')::int) FROM event_lake WHERE guild_id = :g AND event_type = 'voice_tick'",
        g=GUILD)
    assert minutes > ticks > 0, "ticks pay blocks of several minutes"
    assert stack.scalar("SELECT sum(voice_seconds) FROM member_daily WHERE guild_id = :g", g=GUILD) == 60 * minutes
    # The watermark reaches the sequence's last value: every id taken, including ids a batch reserved
    # and did not use (a gap, as a rolled-back insert leaves one).
    watermark = stack.scalar("SELECT last_event_id FROM rollup_state WHERE guild_id = :g", g=GUILD)
    assert watermark >= stack.scalar("SELECT max(id) FROM event_lake")
    assert watermark == stack.scalar(
        "SELECT pg_sequence_last_value(pg_get_serial_sequence('event_lake', 'id')::regclass)")


def test_watermark_waits_for_a_writer_still_in_flight(stack: Stack) -> None:
    """An open lake transaction holding a lower id keeps the watermark from passing it."""
    started, release = threading.Event(), threading.Event()

    def writer() -> None:
        with stack.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_current_xact_id()"))
            conn.execute(sa.text("INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, "
                                 "occurred_at) VALUES (:g, 'discord', 'slow:1', 'message_create', now())"),
                         {"g": GUILD})
            started.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(10)
    high, _ = safe_high(stack.engine, wait_seconds=0.3)
    assert high is None  # it would not skip the in-flight id
    assert roll_up(stack.engine, wait_seconds=0.3).skipped
    release.set()
    thread.join()
    report = roll_up(stack.engine, wait_seconds=5)
    assert not report.skipped and report.events == 1
