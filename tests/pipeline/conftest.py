"""A local stack per test: fresh PostgreSQL, Azurite queues, the real Functions app behind the runner.

Messages are sent with ``azure-storage-queue`` exactly as the relay sends them and are
processed by the app's own queue-triggered functions through :class:`QueueWorker`,
which reproduces the Functions host's dequeue-count, visibility and poison semantics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.bootstrap import Container, set_container
from synapse.clock import FixedClock
from synapse.config import load_settings
from synapse.queues import ensure_queue, queue_client
from synapse.runner.discovery import QueueSettings, discover, host_settings, load_app
from synapse.runner.queue_worker import QueueWorker
from synapse.services.guild_init import init_guild

GUILD = 1_100_000_000_000_000_001
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@dataclass
class Stack:
    engine: sa.Engine
    container: Container
    connection: str
    events_queue: str
    announce_queue: str
    host: QueueSettings
    clock: FixedClock
    workers: list[QueueWorker] = field(default_factory=list)

    def send(self, texts: list[str], *, queue: str | None = None) -> None:
        """Send message bodies the way the relay does (base64 text policy)."""
        client = queue_client(queue or self.events_queue, connection=self.connection)
        ensure_queue(client)
        for text in texts:
            client.send_message(text)

    def worker(self, function: str = "ingest", *, workers: int = 1, queue: str | None = None,
               **host: Any) -> QueueWorker:
        queues, _ = discover(load_app())
        fn = next(q for q in queues if q.name == function)
        name = queue or (self.events_queue if function == "ingest" else self.announce_queue)
        settings = dataclasses.replace(self.host, **host)
        w = QueueWorker(dataclasses.replace(fn, queue=name), connection=self.connection, settings=settings,
                        workers=workers)
        w.ensure_queues()
        self.workers.append(w)
        return w

    def peek_all(self, queue: str) -> list[str]:
        """Every message body waiting in a queue (decoded), without removing them."""
        client = queue_client(queue, connection=self.connection)
        return [m.content.decode() for m in client.peek_messages(max_messages=32)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()


def make_stack(db_url: str, engine: sa.Engine, connection: str, queue_name: str, **extra: Any) -> Stack:
    """The stack on this test's queues; ``extra`` are more settings (environment names)."""
    settings = load_settings(SYNAPSE_ENV="test", AzureWebJobsStorage=connection,
                             SYNAPSE_EVENTS_QUEUE=f"{queue_name}-ev", SYNAPSE_ANNOUNCE_QUEUE=f"{queue_name}-an",
                             **extra)
    clock = FixedClock(T0 + timedelta(days=2))
    container = Container(settings, clock=clock, database_url=db_url)
    container.__dict__["engine"] = engine  # share the test's engine (and its pool)
    with engine.begin() as conn:
        init_guild(conn, GUILD, name="Simulated")
    # Tests never wait out the host's retry delay: a failed message is visible again at once.
    host = dataclasses.replace(host_settings(), visibility_timeout=timedelta(0))
    return Stack(engine, container, connection, settings.events_queue, settings.announce_queue, host, clock)


@pytest.fixture
def stack(db_url: str, engine: sa.Engine, azurite: Any, queue_name: str) -> Iterator[Stack]:
    s = make_stack(db_url, engine, azurite.connection_string, queue_name)
    set_container(s.container)
    yield s
    for w in s.workers:
        w.pool.shutdown(wait=True)
    s.container.__dict__.pop("engine", None)
    set_container(None)
