"""What a command handler gets: the engine, settings, the clock, and a way to defer work.

Built from the composition root (``synapse.bootstrap.container()``) on each
request, so tests and the local runner swap the whole world with
``set_container``. Handlers run inside one database transaction opened by the
dispatcher; deferred jobs are sent to the follow-up queue only after it commits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from synapse.clock import Clock
from synapse.config import Settings

if TYPE_CHECKING:
    from synapse.db.uow import DbEngine

Json = dict[str, Any]
Enqueue = Callable[[Json], None]


@dataclass(frozen=True)
class Reply:
    """A handler's answer: the interaction response, plus an optional job for the follow-up queue."""

    body: Json
    job: Json | None = None


@dataclass
class Context:
    engine: DbEngine
    settings: Settings
    clock: Clock
    enqueue: Enqueue = field(repr=False)


_queues: dict[tuple[str, str, str], Any] = {}
# Discord waits 3 s for the answer: with storage down, the SDK's default retries (15 s backoff, ~90 s in
# all) would hold the request far past that. One try with short timeouts; the caller answers with an error.
FAIL_FAST: dict[str, Any] = {"retry_total": 0, "connection_timeout": 0.5, "read_timeout": 1.5}
_queues_lock = threading.Lock()


def queue_sender(settings: Settings) -> Enqueue:
    """Send a JSON job to the follow-up queue (Azure Storage; Azurite locally)."""
    def send(job: Json) -> None:
        key = (settings.followup_queue, settings.storage_connection, settings.storage_queue_service_uri)
        with _queues_lock:
            client = _queues.get(key)
            if client is None:
                from synapse.queues import ensure_queue, queue_client

                client = queue_client(settings.followup_queue, connection=settings.storage_connection,
                                      service_uri=settings.storage_queue_service_uri,
                                      client_id=settings.managed_identity_client_id)
                ensure_queue(client, **FAIL_FAST)   # bounded like the send
                _queues[key] = client
        client.send_message(json.dumps(job, separators=(",", ":")), **FAIL_FAST)
    return send


def current() -> Context:
    from synapse.bootstrap import container

    c = container()
    return Context(engine=c.engine, settings=c.settings, clock=c.clock, enqueue=queue_sender(c.settings))
