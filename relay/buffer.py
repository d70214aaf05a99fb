"""The bounded in-memory buffer between the gateway and the queue.

``put`` is synchronous and never awaits: cogs call it from discord.py's event
loop, and anything that waited there would delay the gateway heartbeat. A
single background task cuts batches (by count and size, see
:mod:`relay.batcher`, and by time: the first event of a batch waits at most
``linger`` seconds) and hands them to the delivery, one at a time.

Bounded: if the delivery falls so far behind that ``capacity`` events are
pending, the oldest batch is written to the disk spool on the spot (one fsync)
instead of growing memory or dropping events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from relay.batcher import Batch, Batcher, encode_event
from relay.telemetry import Stats

log = logging.getLogger("relay.buffer")

RETRY_AFTER_FAILURE = 1.0  # seconds

Deliver = Callable[[Batch], Awaitable[None]]
Overflow = Callable[[list[Batch]], None]


class EventBuffer:
    def __init__(self, deliver: Deliver, stats: Stats, *, linger: float = 0.1, capacity: int = 50_000,
                 batcher: Batcher | None = None, overflow: Overflow | None = None) -> None:
        self._deliver = deliver
        self.stats = stats
        self.linger = linger
        self.capacity = capacity
        self._batcher = batcher or Batcher()
        self._overflow = overflow
        self._first_at = 0.0
        self._wake = asyncio.Event()
        self._closing = False
        self._in_flight: Batch | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._batcher)

    def put(self, event: dict[str, Any]) -> None:
        """Take one envelope event (never blocks, never drops)."""
        piece = encode_event(event)
        self.stats.events_in += 1
        if self._overflow is not None and len(self._batcher) >= self.capacity:
            self._spill()
        if not self._batcher:
            self._first_at = time.monotonic()
            self._wake.set()
        self._batcher.add(piece)
        if self._batcher.full():
            self._wake.set()

    def _spill(self) -> None:
        batch = self._batcher.cut()
        if batch is not None and self._overflow is not None:
            self.stats.buffer_overflows += 1
            log.warning("buffer full: oldest batch spooled", extra={"events": batch.count})
            self._overflow([batch])

    async def run(self) -> None:
        """Cut and deliver batches until :meth:`close`."""
        while True:
            if not self._batcher:
                self._idle.set()
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            self._idle.clear()
            if not self._closing and not self._batcher.full():
                remaining = self._first_at + self.linger - time.monotonic()
                if remaining > 0:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), remaining)
                    continue
            batch = self._batcher.cut()
            if batch is not None:
                self._in_flight = batch
                await self._deliver_until_done(batch)
                self._in_flight = None
            self._first_at = time.monotonic()

    async def _deliver_until_done(self, batch: Batch) -> None:
        """Delivery spools what the queue refuses; if even that fails (disk full), keep the batch
        and try again rather than let this task die and events pile up unseen."""
        while True:
            try:
                await self._deliver(batch)
                return
            except Exception:
                log.exception("delivery failed (queue and spool): retrying", extra={"events": batch.count})
                await asyncio.sleep(RETRY_AFTER_FAILURE)

    async def flushed(self) -> None:
        """Wait until everything put so far has been handed to the delivery."""
        await asyncio.sleep(0)
        while self._batcher or not self._idle.is_set():
            self._wake.set()
            await asyncio.sleep(0.005)

    def close(self) -> None:
        """Stop after cutting and delivering everything pending, without waiting for linger."""
        self._closing = True
        self._wake.set()

    def drain(self) -> list[Batch]:
        """Everything still pending, cut into batches (for the shutdown path).

        A batch whose delivery was cancelled is included: it may have reached the
        queue already, and sending it again is a duplicate, which the lake ignores.
        """
        pending = [self._in_flight] if self._in_flight is not None else []
        self._in_flight = None
        return pending + self._batcher.drain()
