"""The whole local pipeline for fault tests: Azurite queue → ingest workers → PostgreSQL → announce
workers → the fake Discord, with the app's own queue-triggered functions behind :class:`QueueWorker`
(the local runner's host semantics: dequeue counts, visibility, poison queues).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from synapse.admin import settings as guild_settings
from synapse.admin.audit import SYSTEM
from synapse.bootstrap import Container, set_container
from synapse.clock import FixedClock
from synapse.config import load_settings
from synapse.eventlake.envelope import MAX_MESSAGE_BYTES, encode_envelope
from synapse.queues import ensure_queue, queue_client
from synapse.runner.discovery import discover, host_settings, load_app
from synapse.runner.queue_worker import QueueWorker, raw_client
from synapse.services.guild_init import init_guild
from synapse.simulate.community import SimulationConfig, simulate
from tests.support.fake_discord import FakeDiscord

GUILD = 1_100_000_000_000_000_001
ANNOUNCEMENTS = "1100000000000000777"
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
VOICE = {"voice_join", "voice_leave", "voice_move", "voice_state_snapshot"}


def traffic(*, seed: int = 11, members: int = 20, days: float = 1.0, end: datetime = T0 + timedelta(days=1),
            per_message: int | None = None) -> list[str]:
    """Simulated traffic as relay messages: by default one member's day per message (decisions that
    compare a member's events see them together), the voice channel's events in one message."""
    events = simulate(SimulationConfig(seed=seed, guild_id=GUILD, members=members, days=days, end=end))
    by_member: dict[str, list[dict[str, Any]]] = {}
    voice: list[dict[str, Any]] = []
    for e in events:
        (voice if e["event_type"] in VOICE else by_member.setdefault(str(e["user_id"]), [])).append(e)
    groups = [*by_member.values(), voice]
    if per_message:
        groups = [g[i:i + per_message] for g in groups for i in range(0, len(g), per_message)]
    return [text for g in groups if g for text in _fitting(g)]


def _fitting(group: list[dict[str, Any]]) -> list[str]:
    """One envelope, or halves of it until each fits the queue's 64 KiB (base64 included)."""
    text = encode_envelope(group)
    if len(text) <= MAX_MESSAGE_BYTES * 3 // 4 - 64 or len(group) == 1:
        return [text]
    half = len(group) // 2
    return [*_fitting(group[:half]), *_fitting(group[half:])]


@dataclass
class E2E:
    engine: sa.Engine
    container: Container
    connection: str
    events_queue: str
    announce_queue: str
    fake: FakeDiscord
    clock: FixedClock
    workers: list[QueueWorker] = field(default_factory=list)

    def send(self, texts: list[str], *, queue: str | None = None) -> None:
        """Send bodies the way the relay does (azure-storage-queue, base64 text policy)."""
        client = queue_client(queue or self.events_queue, connection=self.connection)
        ensure_queue(client)
        for text in texts:
            client.send_message(text)

    def send_raw(self, wire_texts: list[str]) -> None:
        """Send wire text as is (for poison: bodies that are not even valid base64)."""
        client = raw_client(self.connection, self.events_queue)
        for text in wire_texts:
            client.send_message(text)

    def worker(self, function: str, *, workers: int = 1, **host: Any) -> QueueWorker:
        queues, _ = discover(load_app())
        fn = next(q for q in queues if q.name == function)
        name = self.events_queue if function == "ingest" else self.announce_queue
        settings = dataclasses.replace(host_settings(), **{"visibility_timeout": timedelta(0), **host})
        w = QueueWorker(dataclasses.replace(fn, queue=name), connection=self.connection, settings=settings,
                        workers=workers)
        w.ensure_queues()
        self.workers.append(w)
        return w

    def queue_length(self, queue: str) -> int:
        return int(raw_client(self.connection, queue).get_queue_properties().approximate_message_count)

    def poison_bodies(self, queue: str) -> list[str]:
        client = raw_client(self.connection, f"{queue}-poison")
        return [m.content for m in client.peek_messages(max_messages=32)]

    def sweep_until_sent(self, *, rounds: int = 40, pause: float = 1.0) -> None:
        """The announce timer's sweep, the clock moving on a few minutes each round, until nothing is due.

        The REST client keeps its rate-limit buckets on the real monotonic clock, so between rounds
        real time passes too (``pause``), as it would between two timer runs."""
        from synapse.services.announce import announcer_for

        announcer = announcer_for(self.container)
        for _ in range(rounds):
            with self.engine.connect() as conn:
                pending = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar_one()
            if not pending:
                return
            self.clock.advance(minutes=5)
            announcer.sweep(min_age_seconds=0)
            time.sleep(pause)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()

    def close(self) -> None:
        for w in self.workers:
            w.stop(timeout=10)


def make_e2e(db_url: str, engine: sa.Engine, connection: str, prefix: str, fake: FakeDiscord,
             **extra: Any) -> E2E:
    settings = load_settings(SYNAPSE_ENV="test", AzureWebJobsStorage=connection,
                             SYNAPSE_EVENTS_QUEUE=f"{prefix}-ev", SYNAPSE_ANNOUNCE_QUEUE=f"{prefix}-an",
                             **fake.env(), **extra)
    clock = FixedClock(T0 + timedelta(days=2))
    container = Container(settings, clock=clock, database_url=db_url)
    container.__dict__["engine"] = engine
    with engine.begin() as conn:
        init_guild(conn, GUILD, name="Simulated")
        guild_settings.update(conn, GUILD, {"announcements_channel_id": ANNOUNCEMENTS}, actor=SYSTEM)
    set_container(container)
    return E2E(engine, container, connection, settings.events_queue, settings.announce_queue, fake, clock)


@contextmanager
def running(*workers: QueueWorker) -> Iterator[None]:
    """Workers polling in the background (as ``synapse dev`` runs them), stopped afterwards."""
    for w in workers:
        w.start()
    try:
        yield
    finally:
        for w in workers:
            w.stop(timeout=30)


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(every)


def idle(stack: E2E, *workers: QueueWorker) -> Callable[[], bool]:
    """Both queues empty and nothing in flight."""
    def check() -> bool:
        return (all(w._in_flight == 0 for w in workers)
                and stack.queue_length(stack.events_queue) == 0 and stack.queue_length(stack.announce_queue) == 0)
    return check


def run_threads(*targets: Callable[[], None]) -> None:
    errors: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def go() -> None:
            try:
                fn()
            except BaseException as exc:  # re-raised in the test thread
                errors.append(exc)
        return go

    threads = [threading.Thread(target=wrap(t)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    if errors:
        raise errors[0]
