"""The local runner: schedules, timers, the HTTP side, and the whole app polling Azurite like the host."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from synapse.runner.dev import Runner
from synapse.runner.discovery import TimerFunction, _timespan
from synapse.runner.http import asgi_app
from synapse.runner.schedule import Schedule
from synapse.runner.timers import TimerWorker
from synapse.simulate.community import SimulationConfig, envelopes, simulate
from tests.pipeline.conftest import GUILD, T0, Stack


def test_ncrontab_next_firing_times() -> None:
    """Six-field NCRONTAB: every minute, every 5 minutes at :30 s, weekdays at 09:00."""
    t = datetime(2026, 3, 6, 8, 59, 59, 500_000, tzinfo=UTC)  # a Friday
    assert Schedule.parse("0 * * * * *").next_after(t) == datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    assert Schedule.parse("30 */5 * * * *").next_after(t) == datetime(2026, 3, 6, 9, 0, 30, tzinfo=UTC)
    weekday = Schedule.parse("0 0 9 * * mon-fri")
    assert weekday.next_after(datetime(2026, 3, 6, 9, 0, tzinfo=UTC)) == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="6 fields"):
        Schedule.parse("* * * * *")
    assert _timespan("00:00:30") == timedelta(seconds=30) and _timespan("1.02:00:00") == timedelta(days=1, hours=2)


def test_timer_worker_passes_a_timer_request_and_survives_failures() -> None:
    """A timer function gets a TimerRequest; a failing run is logged and the next still fires."""
    calls: list[bool] = []

    def fn(timer: object) -> None:
        calls.append(bool(timer.past_due))
        if len(calls) == 1:
            raise RuntimeError("boom")

    worker = TimerWorker(TimerFunction("t", "0 * * * * *", False, "timer", fn))
    worker.fire()
    worker.fire(past_due=True)
    assert calls == [False, True] and worker.runs == 1


def test_http_side_serves_the_api_and_the_dashboard_with_spa_fallback(tmp_path: Path) -> None:
    """/api/* reaches the Functions HTTP app; other paths are the built dashboard, deep links get index.html."""
    (tmp_path / "index.html").write_text("<html>dashboard</html>")
    (tmp_path / "_app").mkdir()
    (tmp_path / "_app" / "x.js").write_text("console.log(1)")

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=asgi_app(dashboard=tmp_path))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [await client.get(p) for p in ("/api/health", "/", "/_app/x.js", "/guild/1/rules")]

    import asyncio

    health, root, asset, deep = asyncio.run(go())
    assert health.status_code == 200
    assert root.text == deep.text == "<html>dashboard</html>"
    assert asset.text == "console.log(1)"


def test_runner_polls_every_queue_function_against_azurite(stack: Stack) -> None:
    """Runner.build finds ingest and announce; started, it ingests what the relay sends and drains announce."""
    runner = Runner.build(storage_connection=stack.connection, timers=False, workers=2)
    assert {q.function.name for q in runner.queues} >= {"ingest", "announce"}
    for q in runner.queues:  # this test's own queues, the app's functions
        name = stack.events_queue if q.function.name == "ingest" else stack.announce_queue
        q.function = dataclasses.replace(q.function, queue=name)
        q.client = type(q.client).from_connection_string(stack.connection, name)
        q.poison = type(q.client).from_connection_string(stack.connection, f"{name}-poison")
    runner.queues = [q for q in runner.queues if q.function.name in ("ingest", "announce")]
    events = simulate(SimulationConfig(seed=4, guild_id=GUILD, members=10, days=0.5, end=T0 + timedelta(hours=12)))
    stack.send(list(envelopes(events)))
    runner.start()
    try:
        # The runner's workers are threads on the real Azurite: poll for what they did, with a deadline.
        deadline = time.monotonic() + 60
        distinct = len({e["source_event_id"] for e in events})
        while time.monotonic() < deadline:
            if stack.scalar("SELECT count(*) FROM event_lake WHERE source_system = 'discord'") == distinct:
                break
            time.sleep(0.2)
        assert stack.scalar("SELECT count(*) FROM event_lake WHERE source_system = 'discord'") == distinct
        announce = next(q for q in runner.queues if q.function.name == "announce")
        while time.monotonic() < deadline and announce.stats.succeeded == 0:
            time.sleep(0.2)
        assert announce.stats.succeeded > 0 and announce.stats.poisoned == 0
        # No Discord credentials: rows wait in the outbox, unsent and unfailed.
        assert stack.scalar("SELECT count(*) FROM outbox WHERE status <> 'pending'") == 0
    finally:
        runner.stop()


def test_timer_functions_run_against_the_stack(stack: Stack) -> None:
    """Each timer function the app declares runs to completion on a live database (no Discord: rows wait)."""
    from azure.functions.timer import TimerRequest

    from synapse.runner.discovery import discover, load_app

    events = simulate(SimulationConfig(seed=6, guild_id=GUILD, members=10, days=0.5, end=T0 + timedelta(hours=12)))
    stack.send(list(envelopes(events)))
    stack.worker().drain(timeout=60)
    pending = stack.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
    _, timers = discover(load_app())
    for timer in timers:
        timer.fn(**{timer.arg_name: TimerRequest()})
    assert stack.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'") == pending > 0
    # The rollup watermark reaches every id taken (ids a batch reserved and did not use included).
    assert stack.scalar("SELECT last_event_id FROM rollup_state WHERE guild_id = :g", g=GUILD) == \
        stack.scalar("SELECT pg_sequence_last_value(pg_get_serial_sequence('event_lake', 'id')::regclass)")
