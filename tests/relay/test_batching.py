"""Batching limits: count, encoded size (base64 under 64 KiB), time; the buffer never blocks."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path

from relay.batcher import MAX_RAW_BYTES, Batch, Batcher, encode_event
from relay.buffer import EventBuffer
from relay.pipeline import Pipeline
from relay.telemetry import Stats
from synapse.eventlake.envelope import MAX_EVENTS, MAX_MESSAGE_BYTES, decode_envelope, encode_envelope


def event(n: int, *, name: str = "ada", roles: int = 0) -> dict:
    return {"source_system": "discord", "source_event_id": f"message_create:{10**17 + n}",
            "event_type": "message_create", "guild_id": "789", "user_id": "123", "channel_id": "456",
            "occurred_at": "2025-01-15T14:30:00.000Z",
            "payload": {"length": 312, "words": 51, "has_code_block": True, "links": 0, "fingerprint": "9f2c"},
            "actor": {"name": name, "avatar": None, "bot": False, "roles": [str(10**17 + r) for r in range(roles)]}}


def ids(batches: list[Batch]) -> list[str]:
    return [e.source_event_id for b in batches for e in decode_envelope(b.text)]


def test_batches_are_cut_at_the_event_count_limit_in_order() -> None:
    """With a count limit of 50, 120 events → 50 + 50 + 20, order kept, nothing lost."""
    assert Batcher().max_events == MAX_EVENTS  # never more than the envelope allows
    batcher = Batcher(max_events=50)
    for n in range(120):
        batcher.add(encode_event(event(n)))
    assert batcher.full()
    batches = batcher.drain()
    assert [b.count for b in batches] == [50, 50, 20]
    assert ids(batches) == [f"message_create:{10**17 + n}" for n in range(120)]


def test_batches_fit_one_queue_message_after_base64() -> None:
    """Large events (250 roles each, non-ASCII names) → every message ≤ 64 KiB once base64-encoded."""
    batcher = Batcher()
    for n in range(300):
        batcher.add(encode_event(event(n, name="Ægir 🔥 ünïcode" * 4, roles=250)))
    batches = batcher.drain()
    assert len(batches) > 1 and sum(b.count for b in batches) == 300
    for batch in batches:
        encoded = base64.b64encode(batch.text.encode("utf-8"))
        assert len(encoded) <= MAX_MESSAGE_BYTES
        assert len(batch.text.encode()) <= MAX_RAW_BYTES
        assert decode_envelope(encoded) == decode_envelope(batch.text)  # what the trigger would see
    # Batches are not wastefully small: each but the last is at least 90 % of the budget.
    assert all(len(b.text) > 0.9 * MAX_RAW_BYTES for b in batches[:-1])


def test_assembled_envelope_is_the_contract_encoding() -> None:
    """The relay's assembled text decodes to exactly what encode_envelope would send."""
    events = [event(n, name="Ægir 🔥") for n in range(5)]
    batcher = Batcher()
    for e in events:
        batcher.add(encode_event(e))
    [batch] = batcher.drain()
    assert json.loads(batch.text) == json.loads(encode_envelope(events))
    assert batch.text.isascii()


def test_a_single_event_too_large_for_any_message_is_refused_loudly() -> None:
    """An event that cannot fit any message raises instead of producing an unsendable batch."""
    batcher = Batcher()
    huge = event(1)
    huge["payload"]["blob"] = "x" * MAX_RAW_BYTES
    try:
        batcher.add(encode_event(huge))
    except ValueError as exc:
        assert "larger than a queue message" in str(exc)
    else:
        raise AssertionError("oversized event accepted")


def test_a_lone_event_is_flushed_within_the_linger_window() -> None:
    """One event and silence → delivered after ~linger, well within 250 ms."""
    async def go() -> float:
        delivered: asyncio.Queue[float] = asyncio.Queue()

        async def deliver(batch: Batch) -> None:
            delivered.put_nowait(time.monotonic())

        buffer = EventBuffer(deliver, Stats(), linger=0.05)
        task = asyncio.create_task(buffer.run())
        await asyncio.sleep(0)
        start = time.monotonic()
        buffer.put(event(1))
        at = await asyncio.wait_for(delivered.get(), 1.0)
        buffer.close()
        await task
        return at - start

    elapsed = asyncio.run(go())
    assert 0.04 <= elapsed < 0.25


def test_put_never_blocks_and_memory_stays_bounded_when_the_queue_hangs(tmp_path: Path) -> None:
    """A queue that never answers: 20,000 puts stay fast, the buffer holds ≤ capacity, the rest is spooled."""
    class Hanging:
        async def send(self, text: str) -> None:
            await asyncio.Event().wait()

    async def go() -> tuple[float, Pipeline]:
        pipeline = Pipeline(Hanging(), tmp_path, linger=0.01, capacity=2_000)
        pipeline.start()
        await asyncio.sleep(0)  # let its tasks start
        start = time.perf_counter()
        for n in range(20_000):
            pipeline.put(event(n))
        elapsed = time.perf_counter() - start
        assert len(pipeline.buffer) <= 2_000
        await pipeline.stop(grace=0.2)
        return elapsed, pipeline

    elapsed, pipeline = asyncio.run(go())
    assert elapsed < 5.0  # includes the overflow fsyncs; without the spool path this would grow unbounded
    stats = pipeline.stats
    assert stats.buffer_overflows > 0
    assert stats.events_in == 20_000 == stats.events_spooled  # every event is on disk; none sent, none lost


def test_a_failing_delivery_is_retried_not_dropped(monkeypatch) -> None:
    """If delivery itself raises (queue down *and* disk full), the batch is kept and tried again."""
    import relay.buffer

    monkeypatch.setattr(relay.buffer, "RETRY_AFTER_FAILURE", 0.01)
    attempts: list[int] = []
    delivered: list[Batch] = []

    async def deliver(batch: Batch) -> None:
        attempts.append(batch.count)
        if len(attempts) < 3:
            raise OSError(28, "No space left on device")
        delivered.append(batch)

    async def go() -> None:
        buffer = EventBuffer(deliver, Stats(), linger=0.01)
        task = asyncio.create_task(buffer.run())
        for n in range(3):
            buffer.put(event(n))
        await asyncio.wait_for(buffer.flushed(), 2.0)
        buffer.close()
        await task

    asyncio.run(go())
    assert len(attempts) == 3 and ids(delivered) == [f"message_create:{10**17 + n}" for n in range(3)]
