"""Getting batches onto the queue: send with retries, else spool; replay the spool in order.

Two paths, one rule: *once anything is in the spool, new batches go behind it*,
so the queue sees batches in the order they were cut even across an outage.

- ``deliver(batch)``: no backlog → send (a few quick retries with exponential
  backoff and jitter); still failing → append to the spool (fsynced).
  Backlog → append to the spool directly.
- ``run_replayer()``: while the spool has records, send them oldest first,
  committing each; on failure back off (doubling, capped) and probe again.

Azure SDK retries are switched off per call (``retry_total=0``): its default
policy waits tens of seconds, during which the buffer would fill; this module
owns the backoff instead. The blocking SDK call runs in a worker thread so the
gateway heartbeat never waits on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Coroutine
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from relay.batcher import Batch
from relay.spool import Spool
from relay.telemetry import Stats
from synapse.errors import StorageError

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

log = logging.getLogger("relay.sender")


class Transport(Protocol):
    async def send(self, text: str) -> None:
        """Put one envelope on the queue; raise :class:`StorageError` if it did not get there."""


class QueueTransport:
    """Azure Storage Queue, with the base64 encode policy of :func:`synapse.queues.queue_client`."""

    def __init__(self, client: QueueClient, *, timeout: float = 5.0) -> None:
        self._client = client
        self._timeout = timeout

    def _send_blocking(self, text: str) -> None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        kwargs: dict[str, Any] = {"retry_total": 0, "connection_timeout": self._timeout, "read_timeout": self._timeout}
        try:
            try:
                self._client.send_message(text, **kwargs)
            except ResourceNotFoundError:  # queue not created yet (fresh storage account / Azurite)
                self.ensure_blocking()
                self._client.send_message(text, **kwargs)
        except AzureError as exc:
            raise StorageError(f"queue send failed: {type(exc).__name__}") from exc

    def ensure_blocking(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        with contextlib.suppress(ResourceExistsError):
            self._client.create_queue(retry_total=0, connection_timeout=self._timeout)

    async def send(self, text: str) -> None:
        await asyncio.to_thread(self._send_blocking, text)


class Delivery:
    def __init__(self, transport: Transport, spool: Spool, stats: Stats, *, attempts: int = 3,
                 backoff: float = 0.1, max_backoff: float = 5.0, replay_chunk: int = 64) -> None:
        self.transport = transport
        self.spool = spool
        self.stats = stats
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.replay_chunk = replay_chunk
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()

    # -- direct path ----------------------------------------------------------------------
    async def deliver(self, batch: Batch, *, attempts: int | None = None) -> None:
        async with self._lock:
            if self.spool.pending:
                await self._spool([batch], reason="backlog")
                return
        if await self._send(batch, attempts or self.attempts):
            return
        async with self._lock:
            await self._spool([batch], reason="queue_unreachable")

    async def _send(self, batch: Batch, attempts: int) -> bool:
        delay = self.backoff
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                await self.transport.send(batch.text)
            except StorageError as exc:
                self.stats.send_failures += 1
                log.warning("queue send failed", extra={"attempt": attempt, "error": exc.message})
                if attempt < attempts:
                    await asyncio.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, self.max_backoff)
                continue
            self.stats.sent(batch.count, started)
            return True
        return False

    async def _spool(self, batches: list[Batch], *, reason: str) -> None:
        await asyncio.to_thread(self.spool.append, [b.text for b in batches])
        self.stats.batches_spooled += len(batches)
        self.stats.events_spooled += sum(b.count for b in batches)
        log.info("batch spooled", extra={"reason": reason, "events": sum(b.count for b in batches),
                                         "spool_backlog": self.spool.pending})
        self._wake.set()

    def spool_now(self, batches: list[Batch]) -> None:
        """Synchronous spooling for the buffer's overflow path (rare; blocks for one fsync)."""
        self.spool.append([b.text for b in batches])
        self.stats.batches_spooled += len(batches)
        self.stats.events_spooled += sum(b.count for b in batches)
        self._wake.set()

    # -- replay ---------------------------------------------------------------------------
    async def replay_once(self) -> bool:
        """Send spooled batches oldest first; True when the spool is empty afterwards."""
        while self.spool.pending:
            records = await asyncio.to_thread(lambda: list(islice(self.spool.peek(), self.replay_chunk)))
            if not records:
                return True
            for text, end in records:
                started = time.perf_counter()
                try:
                    await self.transport.send(text)
                except StorageError:
                    self.stats.send_failures += 1
                    return False
                async with self._lock:
                    await asyncio.to_thread(self.spool.commit, end)
                self.stats.sent(text.count('"source_event_id"'), started)
                self.stats.batches_replayed += 1
        log.info("spool drained", extra={"batches_replayed": self.stats.batches_replayed})
        return True

    async def run_replayer(self) -> None:
        delay = self.backoff
        while not self._closed.is_set():
            if not self.spool.pending:
                self._wake.clear()
                await self._wait(self._wake.wait(), None)
                continue
            try:
                drained = await self.replay_once()
            except Exception:  # e.g. the spool's disk; keep the task alive and try again later
                log.exception("spool replay failed")
                drained = False
            if drained:
                delay = self.backoff
                continue
            await self._wait(self._closed.wait(), delay)
            delay = min(delay * 2, self.max_backoff)

    async def _wait(self, awaitable: Coroutine[Any, Any, Any], timeout: float | None) -> None:
        waiters = {asyncio.ensure_future(awaitable), asyncio.ensure_future(self._closed.wait())}
        _, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    def close(self) -> None:
        self._closed.set()
