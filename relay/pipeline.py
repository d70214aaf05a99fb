"""Buffer → batches → queue (or spool), assembled and run as one unit with a clean stop.

Used by ``python -m relay`` and by the tests, so the shutdown path that runs on
SIGTERM is the one the tests exercise: stop taking events, cut what is
buffered, try each batch once, spool whatever did not go, and return within
the grace period Container Apps allows (30 s by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from relay.buffer import EventBuffer
from relay.sender import Delivery, Transport
from relay.spool import Spool
from relay.telemetry import Stats

log = logging.getLogger("relay.pipeline")


class Pipeline:
    def __init__(self, transport: Transport, spool_dir: Path, *, stats: Stats | None = None,
                 linger: float = 0.1, capacity: int = 50_000, attempts: int = 3, backoff: float = 0.1,
                 max_backoff: float = 5.0, max_events: int | None = None) -> None:
        from relay.batcher import Batcher

        self.stats = stats or Stats()
        self.spool = Spool(spool_dir)
        self.delivery = Delivery(transport, self.spool, self.stats, attempts=attempts, backoff=backoff,
                                 max_backoff=max_backoff)
        batcher = Batcher(max_events=max_events) if max_events else None
        self.buffer = EventBuffer(self.delivery.deliver, self.stats, linger=linger, capacity=capacity,
                                  batcher=batcher, overflow=self.delivery.spool_now)
        self._tasks: list[asyncio.Task[None]] = []

    def put(self, event: dict[str, Any]) -> None:
        self.buffer.put(event)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self.buffer.run(), name="relay-buffer"),
                       asyncio.create_task(self.delivery.run_replayer(), name="relay-replayer")]

    async def stop(self, *, grace: float = 20.0) -> None:
        """Flush or spool everything buffered; nothing accepted by ``put`` is dropped."""
        started = time.monotonic()
        self.delivery.attempts = 1
        self.buffer.close()
        buffer_task, replayer = self._tasks
        try:
            await asyncio.wait_for(asyncio.shield(buffer_task), timeout=grace)
        except TimeoutError:
            log.warning("shutdown grace exceeded: spooling what is left")
            buffer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await buffer_task
        leftovers = self.buffer.drain()
        if leftovers:
            self.delivery.spool_now(leftovers)
        self.delivery.close()
        # An unfinished replay stays in the spool, uncommitted: it is sent again on the next start.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(replayer, timeout=max(1.0, grace - (time.monotonic() - started)))
        self.spool.close()
        log.info("relay pipeline stopped", extra={"seconds": round(time.monotonic() - started, 3),
                                                  "spool_backlog": self.spool.pending,
                                                  **self.stats.as_dict()})
