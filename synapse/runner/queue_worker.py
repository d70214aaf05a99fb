"""Poll one queue and run its function the way the Functions host does.

Host semantics reproduced (host.json ``extensions.queues``):

- messages are fetched ``batchSize`` at a time; a new batch is fetched once the
  messages in flight drop to ``newBatchThreshold``;
- an empty queue is polled again after a back-off that doubles from 100 ms up to
  ``maxPollingInterval``; a non-empty one at once;
- a message is invisible while it runs (lease = ``functionTimeout``);
- the function gets an ``azure.functions.QueueMessage`` with the decoded body
  (``messageEncoding``), ``id``, ``dequeue_count``, insertion/expiration times;
- success deletes the message; failure makes it visible again after
  ``visibilityTimeout``; a failure on try ``maxDequeueCount`` (or a message
  dequeued more often than that, e.g. after a crashed worker) moves the
  message, byte for byte, to ``<queue>-poison`` and deletes it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from synapse.runner.discovery import QueueFunction, QueueSettings

log = logging.getLogger(__name__)

MIN_POLL = 0.1


@dataclass
class WorkerStats:
    succeeded: int = 0
    failed: int = 0
    poisoned: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def raw_client(connection: str, queue: str) -> Any:
    """A client that sends and receives the wire text unchanged (the poison copy stays byte-identical)."""
    from azure.storage.queue import QueueClient

    from synapse.queues import normalise_connection_string

    return QueueClient.from_connection_string(normalise_connection_string(connection), queue)


def decode_wire(text: str | bytes, encoding: str) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if encoding == "base64":
        return base64.b64decode(raw, validate=True)
    return raw


class QueueWorker:
    """One queue-triggered function, polled on a background thread."""

    def __init__(self, function: QueueFunction, *, connection: str, settings: QueueSettings,
                 workers: int | None = None) -> None:
        self.function = function
        self.settings = settings
        self.connection = connection
        self.client = raw_client(connection, function.queue)
        self.poison_name = f"{function.queue}-poison"
        self.poison = raw_client(connection, self.poison_name)
        concurrency = workers or settings.batch_size + settings.new_batch_threshold
        self.batch_size = min(settings.batch_size, concurrency, 32)
        self.threshold = max(0, min(settings.new_batch_threshold, concurrency - self.batch_size))
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"q-{function.name}")
        self.stats = WorkerStats()
        self._in_flight = 0
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def ensure_queues(self) -> None:
        from azure.core.exceptions import ResourceExistsError

        for client in (self.client, self.poison):
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()

    def start(self) -> None:
        self.ensure_queues()
        self._thread = threading.Thread(target=self._loop, name=f"poll-{self.function.name}", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.pool.shutdown(wait=True, cancel_futures=False)

    # -- polling ---------------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Fetch one batch and hand it to the pool; return how many messages were fetched."""
        lease = max(int(self.settings.function_timeout.total_seconds()), 1)
        messages = list(self.client.receive_messages(messages_per_page=self.batch_size,
                                                     max_messages=self.batch_size, visibility_timeout=lease))
        for message in messages:
            with self._cv:
                self._in_flight += 1
            future = self.pool.submit(self.handle, message)
            future.add_done_callback(self._done)
        return len(messages)

    def _done(self, _: Future[None]) -> None:
        with self._cv:
            self._in_flight -= 1
            self._cv.notify_all()

    def _loop(self) -> None:
        delay = MIN_POLL
        ceiling = max(self.settings.max_polling_interval.total_seconds(), MIN_POLL)
        while not self._stop.is_set():
            with self._cv:
                while self._in_flight > self.threshold and not self._stop.is_set():
                    self._cv.wait(0.5)
            if self._stop.is_set():
                return
            try:
                fetched = self.poll_once()
            except Exception as exc:  # storage down: back off and keep trying, like the host
                log.warning("queue poll failed", extra={"queue": self.function.queue, "error": str(exc)[:200]})
                fetched = 0
            if fetched:
                delay = MIN_POLL
                continue
            self._stop.wait(delay)
            delay = min(delay * 2, ceiling)

    def drain(self, *, timeout: float = 30.0) -> None:
        """Run until the queue is empty and nothing is in flight (tests, one-shot runs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fetched = self.poll_once()
            with self._cv:
                while self._in_flight and time.monotonic() < deadline:
                    self._cv.wait(0.1)
            if not fetched and not self._in_flight:
                props = self.client.get_queue_properties()
                if not props.approximate_message_count:
                    return
                time.sleep(MIN_POLL)  # messages waiting out their visibility timeout
        raise TimeoutError(f"queue {self.function.queue} not drained within {timeout} s")

    # -- one message -----------------------------------------------------------------------------

    def handle(self, message: Any) -> None:
        name = self.function.name
        extra = {"function": name, "message_id": message.id, "dequeue_count": message.dequeue_count}
        if message.dequeue_count > self.settings.max_dequeue_count:
            self._to_poison(message, reason="dequeued more often than maxDequeueCount")
            return
        try:
            body = decode_wire(message.content, self.settings.message_encoding)
            self._invoke(self._queue_message(message, body))
        except Exception as exc:
            self.stats.add("failed")
            log.error("function failed", extra={**extra, "error": f"{type(exc).__name__}: {exc}"[:500]})
            if message.dequeue_count >= self.settings.max_dequeue_count:
                self._to_poison(message, reason=f"{type(exc).__name__} on try {message.dequeue_count}")
            else:
                try:
                    self.client.update_message(message, visibility_timeout=int(
                        self.settings.visibility_timeout.total_seconds()))
                except Exception as update_exc:  # the lease runs out by itself
                    log.warning("could not shorten visibility", extra={**extra, "error": str(update_exc)[:200]})
            return
        self.stats.add("succeeded")
        try:
            self.client.delete_message(message)
        except Exception as exc:  # lease lost (ran past functionTimeout): it comes back, and ingest is idempotent
            log.warning("could not delete a processed message; it will be delivered again",
                        extra={**extra, "error": str(exc)[:200]})

    def _queue_message(self, message: Any, body: bytes) -> Any:
        from azure.functions.queue import QueueMessage

        return QueueMessage(  # type: ignore[no-untyped-call]
            id=message.id, body=body, dequeue_count=message.dequeue_count, expiration_time=message.expires_on,
            insertion_time=message.inserted_on, time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt)

    def _invoke(self, queue_message: Any) -> None:
        result = self.function.fn(**{self.function.arg_name: queue_message})
        if inspect.isawaitable(result):
            asyncio.run(_await(result))

    def _to_poison(self, message: Any, *, reason: str) -> None:
        self.poison.send_message(message.content)
        self.client.delete_message(message)
        self.stats.add("poisoned")
        log.error("message moved to poison queue",
                  extra={"function": self.function.name, "message_id": message.id, "poison_queue": self.poison_name,
                         "dequeue_count": message.dequeue_count, "reason": reason})


async def _await(result: Any) -> None:
    await result


__all__ = ["QueueWorker", "decode_wire"]
