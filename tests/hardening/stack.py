"""The whole local pipeline for fault tests: Azurite queue → ingest workers → PostgreSQL → announce
workers → the fake Discord, with the app's own queue-triggered functions behind :class:`QueueWorker`
(the local runner's host semantics: dequeue counts, visibility, poison queues).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from synapse.admin import settings as guild_settings
from synapse.admin.audit import SYSTEM
from synapse.bootstrap import set_container
from synapse.eventlake.envelope import MAX_MESSAGE_BYTES, encode_envelope
from synapse.runner.queue_worker import QueueWorker, raw_client
from synapse.simulate.community import SimulationConfig, simulate
from tests.pipeline.conftest import GUILD, T0, Stack, make_stack
from tests.support.fake_discord import FakeDiscord

ANNOUNCEMENTS = "1100000000000000777"
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
class E2E(Stack):
    """The pipeline tests' :class:`Stack` (same queues, workers, settings), with the fake Discord behind
    announce and what fault tests look at: raw sends, queue lengths, poison, the outbox sweep."""

    fake: FakeDiscord = field(kw_only=True)

    def send_raw(self, wire_texts: list[str]) -> None:
        """Send wire text as is (for poison: bodies that are not even valid base64)."""
        client = raw_client(self.connection, self.events_queue)
        for text in wire_texts:
            client.send_message(text)

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
            if not self.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'"):
                return
            self.clock.advance(minutes=5)
            announcer.sweep(min_age_seconds=0)
            time.sleep(pause)

    def close(self) -> None:
        """Stop the workers and unbind the container (the engine stays the caller's)."""
        for w in self.workers:
            w.stop(timeout=10)
        self.container.__dict__.pop("engine", None)
        set_container(None)


def make_e2e(db_url: str, engine: sa.Engine, connection: str, prefix: str, fake: FakeDiscord,
             **extra: Any) -> E2E:
    """:func:`make_stack` with the fake Discord's settings and an announcements channel; the container is set."""
    stack = make_stack(db_url, engine, connection, prefix, **fake.env(), **extra)
    with engine.begin() as conn:
        guild_settings.update(conn, GUILD, {"announcements_channel_id": ANNOUNCEMENTS}, actor=SYSTEM)
    set_container(stack.container)
    return E2E(**vars(stack), fake=fake)


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
    """Poll ``condition`` until a deadline: for what queue workers (threads on real PostgreSQL and Azurite)
    and restarted servers do in their own time."""
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
