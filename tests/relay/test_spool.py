"""The disk spool: durable, ordered, crash-tolerant; and an Azurite outage mid-stream loses nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from relay.pipeline import Pipeline
from relay.sender import QueueTransport
from relay.spool import LOG, Spool
from synapse.eventlake.envelope import decode_envelope
from synapse.queues import queue_client
from tests.relay.test_batching import event


def envelope(n: int) -> str:
    return f'{{"v":1,"events":[{{"n":{n}}}]}}'


def test_records_replay_in_order_and_survive_a_restart(tmp_path: Path) -> None:
    """Appended envelopes come back oldest first; a committed prefix is not replayed after reopening."""
    spool = Spool(tmp_path)
    spool.append([envelope(n) for n in range(5)])
    records = list(spool.peek())
    assert [t for t, _ in records] == [envelope(n) for n in range(5)]
    spool.commit(records[1][1], delivered=2)
    spool.close()

    reopened = Spool(tmp_path)
    assert reopened.pending == 3
    assert [t for t, _ in reopened.peek()] == [envelope(n) for n in range(2, 5)]


def test_a_drained_spool_is_truncated(tmp_path: Path) -> None:
    """Once every record is delivered the file is emptied, so the spool only uses disk during outages."""
    spool = Spool(tmp_path)
    spool.append([envelope(1), envelope(2)])
    *_, (_, end) = spool.peek()
    spool.commit(end, delivered=2)
    assert spool.pending == 0 and spool.offset == 0
    assert (tmp_path / LOG).stat().st_size == 0
    spool.append([envelope(3)])
    assert [t for t, _ in spool.peek()] == [envelope(3)]


def test_a_torn_last_line_is_cut_off_at_start_up(tmp_path: Path) -> None:
    """A crash mid-write leaves a partial line: it fails its checksum and is dropped, the rest stays."""
    spool = Spool(tmp_path)
    spool.append([envelope(1), envelope(2)])
    spool.close()
    with open(tmp_path / LOG, "ab") as fh:
        fh.write(b"0000beef {\"v\":1,\"ev")
    reopened = Spool(tmp_path)
    assert reopened.pending == 2
    assert [t for t, _ in reopened.peek()] == [envelope(1), envelope(2)]


async def async_wait_until(condition: Callable[[], bool], timeout: float) -> None:
    """Poll ``condition`` until a deadline: the pipeline waits on Azurite, a process of its own."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def drain_queue(connection: str, queue: str) -> list[str]:
    """Every source_event_id in the queue (messages hidden, not deleted; duplicates kept)."""
    client = queue_client(queue, connection=connection)
    found: list[str] = []
    while True:
        batch = list(client.receive_messages(max_messages=32, visibility_timeout=300))
        if not batch:
            return found
        for message in batch:
            found.extend(e.source_event_id for e in decode_envelope(message.content))


@pytest.mark.integration
@pytest.mark.fault
def test_azurite_outage_mid_stream_delivers_every_event(azurite, queue_name: str, tmp_path: Path) -> None:
    """Queue down mid-stream → batches spooled; queue back → replayed in order; every id arrives."""
    expected = [f"message_create:{10**17 + n}" for n in range(900)]

    async def go() -> Pipeline:
        transport = QueueTransport(queue_client(queue_name, connection=azurite.connection_string), timeout=1.0)
        await asyncio.to_thread(transport.ensure_blocking)
        pipeline = Pipeline(transport, tmp_path / "spool", linger=0.02, attempts=2, backoff=0.05,
                            max_backoff=0.3)
        pipeline.start()
        for n in range(300):
            pipeline.put(event(n))
            if n % 25 == 0:
                await asyncio.sleep(0)  # let the pipeline's tasks run between puts, as gateway traffic would
        await async_wait_until(lambda: pipeline.stats.events_out >= 300, 10)

        await asyncio.to_thread(azurite.stop)
        for n in range(300, 900):
            pipeline.put(event(n))
            if n % 25 == 0:
                await asyncio.sleep(0)
        await async_wait_until(lambda: len(pipeline.buffer) == 0 and pipeline.stats.events_spooled >= 1, 10)
        assert pipeline.spool.pending > 0

        await asyncio.to_thread(azurite.start)
        await async_wait_until(lambda: pipeline.spool.pending == 0 and len(pipeline.buffer) == 0, 20)
        await pipeline.stop(grace=5)
        return pipeline

    try:
        pipeline = asyncio.run(go())
    finally:
        if azurite.process is None:
            azurite.start()
    delivered = drain_queue(azurite.connection_string, queue_name)
    assert set(delivered) == set(expected), f"lost: {sorted(set(expected) - set(delivered))[:5]}"
    assert pipeline.stats.batches_replayed > 0 and pipeline.stats.events_spooled > 0
    # Order: the spooled tail arrives after the head that went straight through.
    firsts = {sid: i for i, sid in reversed(list(enumerate(delivered)))}
    assert firsts[expected[0]] < firsts[expected[-1]]


@pytest.mark.integration
def test_stop_flushes_what_is_buffered_without_waiting_for_linger(azurite, queue_name: str,
                                                                  tmp_path: Path) -> None:
    """The SIGTERM path: events put just before stop() reach the queue even with a long linger."""
    async def go() -> None:
        transport = QueueTransport(queue_client(queue_name, connection=azurite.connection_string), timeout=2.0)
        pipeline = Pipeline(transport, tmp_path / "spool", linger=0.25)
        pipeline.start()
        for n in range(40):
            pipeline.put(event(n))
        await pipeline.stop(grace=10)
        assert pipeline.spool.pending == 0

    asyncio.run(go())
    assert sorted(drain_queue(azurite.connection_string, queue_name)) == sorted(
        f"message_create:{10**17 + n}" for n in range(40))


def test_stop_spools_what_the_queue_does_not_take(tmp_path: Path) -> None:
    """Queue unreachable at shutdown → the buffered events are in the spool when stop() returns."""
    async def go() -> None:
        from synapse.queues import azurite_connection_string
        from tests.support.services import free_port

        dead = azurite_connection_string(port=free_port())
        pipeline = Pipeline(QueueTransport(queue_client("nowhere", connection=dead), timeout=0.5),
                            tmp_path, linger=0.25, backoff=0.01)
        pipeline.start()
        for n in range(10):
            pipeline.put(event(n))
        await pipeline.stop(grace=5)

    asyncio.run(go())
    spooled = [e.source_event_id for text, _ in Spool(tmp_path).peek() for e in decode_envelope(text)]
    assert spooled == [f"message_create:{10**17 + n}" for n in range(10)]


@pytest.mark.integration
def test_sigterm_flushes_the_buffer_to_the_queue_before_exit(azurite, queue_name: str, tmp_path: Path) -> None:
    """The real serve() loop: SIGTERM while events wait in the buffer → they are on the queue at exit."""
    import os
    import signal

    from relay.app import serve
    from relay.config import load_config
    from relay.context import RelayContext

    class StandInGateway:
        """Produces events like the cogs would, then idles like a connected gateway."""

        def __init__(self, ctx: RelayContext) -> None:
            self.ctx = ctx
            self.closed = asyncio.Event()

        async def start(self, token: str) -> None:
            for n in range(25):
                self.ctx.sink(event(n))
            os.kill(os.getpid(), signal.SIGTERM)  # Container Apps stopping the replica
            await self.closed.wait()

        async def close(self) -> None:
            self.closed.set()

    config = load_config({"DISCORD_BOT_TOKEN": "unused", "AzureWebJobsStorage": azurite.connection_string,
                          "SYNAPSE_EVENTS_QUEUE": queue_name, "SYNAPSE_RELAY_SPOOL_DIR": str(tmp_path),
                          "SYNAPSE_RELAY_HEALTH_PORT": "0", "SYNAPSE_RELAY_LINGER_MS": "250"})
    previous = signal.getsignal(signal.SIGTERM)
    try:
        code = asyncio.run(serve(config, gateway_factory=StandInGateway))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert code == 0
    assert sorted(drain_queue(azurite.connection_string, queue_name)) == sorted(
        f"message_create:{10**17 + n}" for n in range(25))
    assert Spool(tmp_path).pending == 0
