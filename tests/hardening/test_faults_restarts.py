"""Fault injection: the services underneath restart while traffic flows (issue 10).

- PostgreSQL (a private cluster, never the shared one) crashes (``pg_ctl -m immediate``: connections
  cut, in-flight transactions lost, WAL recovery at start) in the middle of ingest load, and comes back.
- Azurite stops and restarts while the relay pipeline sends and the functions poll: the relay spools
  and replays, the pollers back off and resume, leases run out and messages come back.

After each: every event sent is in the lake exactly once, the ledger verifies, no announcement was
posted twice, and nothing is left pending in the outbox.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from synapse.db.engine import make_engine
from synapse.simulate.community import SimulationConfig, simulate
from tests.hardening import checks
from tests.hardening.private_pg import PrivatePostgres
from tests.hardening.stack import GUILD, T0, idle, make_e2e, running, traffic, wait_until
from tests.support.fake_discord import FakeDiscord

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.slow]


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres.start()
    try:
        yield pg
    finally:
        pg.cleanup()


def test_postgresql_crashes_and_restarts_in_the_middle_of_ingest_load(private_pg: PrivatePostgres, azurite: Any,
                                                                     queue_name: str,
                                                                     fake_discord: FakeDiscord) -> None:
    """PostgreSQL dies mid-load (immediate stop) for ~3 s: failed messages are retried after the
    visibility timeout and nothing is lost, doubled or left behind."""
    engine = make_engine(private_pg.url, pool_size=6)
    stack = make_e2e(private_pg.url, engine, azurite.connection_string, queue_name, fake_discord)
    try:
        messages = traffic(seed=21, members=30, per_message=20)
        # Retries spaced like the host's (visibilityTimeout), so 5 tries outlast the outage.
        ingest = stack.worker("ingest", workers=4, visibility_timeout=timedelta(seconds=3))
        announce = stack.worker("announce", workers=2, visibility_timeout=timedelta(seconds=3))
        with running(ingest, announce):
            half = len(messages) // 2
            stack.send(messages[:half])
            wait_until(lambda: ingest.stats.succeeded >= half // 3, timeout=120, what="load under way")
            sender = threading.Thread(target=stack.send, args=(messages[half:],))
            sender.start()
            failed_before = ingest.stats.failed
            private_pg.crash()
            crashed_at = ingest.stats.succeeded
            # The outage lasts until the workers have felt it (a function failed), not a fixed time.
            wait_until(lambda: ingest.stats.failed > failed_before, timeout=120, what="the outage felt")
            private_pg.start_again()
            sender.join(timeout=120)
            wait_until(idle(stack, ingest, announce), timeout=240, what="queues drained after the restart")
        assert crashed_at < len(messages), "the crash happened mid-load"
        assert ingest.stats.failed > 0, "the outage was felt"
        assert ingest.stats.poisoned == 0 and announce.stats.poisoned == 0
        stack.sweep_until_sent()
        figures = checks.end_checks(engine, fake_discord, checks.event_ids(messages))
        assert figures["posted"] > 0
    finally:
        stack.close()
        engine.dispose()


def test_azurite_stops_and_restarts_while_the_relay_and_the_functions_run(
        db_url: str, engine: Any, private_azurite: Any, queue_name: str, fake_discord: FakeDiscord,
        tmp_path: Path) -> None:
    """The relay pipeline keeps accepting events through a queue outage (spooled, then replayed); the
    ingest and announce pollers ride it out; outbox rows whose queue message could not be sent are
    picked up by the sweep. Every event arrives once."""
    from relay.pipeline import Pipeline
    from relay.sender import QueueTransport
    from synapse.queues import queue_client

    stack = make_e2e(db_url, engine, private_azurite.connection_string, queue_name, fake_discord)
    events = sorted(simulate(SimulationConfig(seed=22, guild_id=GUILD, members=30, days=1.0,
                                              end=T0 + timedelta(days=1))), key=lambda e: e["occurred_at"])
    # A lease that runs out soon: messages whose delete was lost with Azurite come back quickly.
    ingest = stack.worker("ingest", workers=3, function_timeout=timedelta(seconds=15))
    announce = stack.worker("announce", workers=2, function_timeout=timedelta(seconds=15))
    thirds = [events[: len(events) // 3], events[len(events) // 3: 2 * len(events) // 3],
              events[2 * len(events) // 3:]]
    relay_stats: dict[str, int] = {}

    async def relay() -> None:
        transport = QueueTransport(queue_client(stack.events_queue, connection=private_azurite.connection_string),
                                   timeout=1.0)
        await asyncio.to_thread(transport.ensure_blocking)
        pipeline = Pipeline(transport, tmp_path / "spool", linger=0.05, attempts=2, backoff=0.05, max_backoff=0.5)
        pipeline.start()

        async def feed(part: list[dict[str, Any]]) -> None:
            for i, e in enumerate(part):
                pipeline.put(e)
                if i % 20 == 0:
                    await asyncio.sleep(0)  # let the pipeline's tasks run between puts

        async def until(condition: Any, timeout: float, what: str) -> None:
            """Poll ``condition`` until a deadline: the pipeline waits on Azurite, a process of its own."""
            deadline = time.monotonic() + timeout
            while not condition():
                if time.monotonic() > deadline:
                    raise AssertionError(f"relay: {what} not within {timeout} s")
                await asyncio.sleep(0.05)

        await feed(thirds[0])
        await until(lambda: pipeline.stats.events_out >= len(thirds[0]), 60, "first third sent")
        await asyncio.to_thread(private_azurite.stop)
        await feed(thirds[1])
        await until(lambda: pipeline.stats.events_spooled > 0 and len(pipeline.buffer) == 0, 60, "spooled")
        # The outage itself (the functions poll a dead queue for a while): real time, as the fault under test.
        # The pollers keep no count of failed receives to wait on instead.
        await asyncio.sleep(2)
        await asyncio.to_thread(private_azurite.start)
        await feed(thirds[2])
        await until(lambda: pipeline.spool.pending == 0 and len(pipeline.buffer) == 0, 120, "spool replayed")
        await pipeline.stop(grace=10)
        relay_stats.update(spooled=pipeline.stats.events_spooled, replayed=pipeline.stats.batches_replayed)

    try:
        with running(ingest, announce):
            asyncio.run(relay())
            wait_until(idle(stack, ingest, announce), timeout=240, what="queues drained after the outage")
        assert relay_stats["spooled"] > 0 and relay_stats["replayed"] > 0, relay_stats
        assert ingest.stats.poisoned == 0
        stack.sweep_until_sent()
        checks.end_checks(engine, fake_discord, [e["source_event_id"] for e in events])
    finally:
        if private_azurite.process is None:
            private_azurite.start()
        stack.close()
