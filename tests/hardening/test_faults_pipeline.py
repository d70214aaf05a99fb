"""Fault injection through the whole local pipeline (issue 10): Azurite → ingest → PostgreSQL →
announce → fake Discord, under duplicate deliveries, poison messages, a Discord that answers 429 and
5xx for a while, and workers that die between the ledger write and the commit.

After each: every event sent is in the lake exactly once, ``synapse ledger verify`` passes, no
announcement was posted twice (messages counted by nonce in the fake), and nothing that should have
gone is left in the outbox.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.config import PROJECT_ROOT
from synapse.runner.discovery import host_settings
from synapse.services import ingest as ingest_service
from tests.hardening import checks
from tests.hardening.stack import E2E, idle, make_e2e, running, traffic, wait_until
from tests.pipeline import ledger_view
from tests.support.fake_discord import FakeDiscord

pytestmark = [pytest.mark.integration, pytest.mark.fault]

MESSAGES = "POST /channels/{channel_id}/messages"


@pytest.fixture
def e2e(db_url: str, engine: sa.Engine, azurite: Any, queue_name: str, fake_discord: FakeDiscord) -> Iterator[E2E]:
    stack = make_e2e(db_url, engine, azurite.connection_string, queue_name, fake_discord)
    try:
        yield stack
    finally:
        stack.close()


def end_checks(stack: E2E, sent: list[str]) -> dict[str, int]:
    return checks.end_checks(stack.engine, stack.fake, checks.event_ids(sent))


def test_the_same_envelopes_delivered_many_times_concurrently(e2e: E2E) -> None:
    """Every message four times, shuffled, 4 ingest workers and 2 announce workers running together:
    one lake row per event, one credit per decision, one Discord message per announcement."""
    messages = traffic(seed=11)
    deliveries = messages * 4
    random.Random(3).shuffle(deliveries)
    ingest, announce = e2e.worker("ingest", workers=4), e2e.worker("announce", workers=2)
    with running(ingest, announce):
        e2e.send(deliveries)
        wait_until(idle(e2e, ingest, announce), timeout=240, what="queues drained")
    assert ingest.stats.poisoned == 0 and ingest.stats.succeeded == len(deliveries)
    e2e.sweep_until_sent()
    figures = end_checks(e2e, messages)
    assert figures["posted"] > 0 and figures["wallets"] > 0
    settled = ledger_view.snapshot(e2e.engine)
    posted = len(e2e.fake.messages)

    e2e.send(messages)  # and once more, after everything settled: nothing changes anywhere
    again = e2e.worker("ingest", workers=2)
    again.drain(timeout=120)
    e2e.worker("announce").drain(timeout=60)
    assert ledger_view.snapshot(e2e.engine) == settled
    assert len(e2e.fake.messages) == posted


POISON = [
    "not json at all",
    json.dumps({"v": 1, "events": [{"source_system": "discord", "event_type": "message_create"}]}),
    json.dumps({"v": 99, "events": []}),
    json.dumps({"v": 1, "events": [{"source_system": "discord", "source_event_id": "x' OR 1=1 --",
                                    "event_type": "message_create", "guild_id": "-1", "user_id": "1e400",
                                    "channel_id": None, "occurred_at": "yesterday", "payload": [], "actor": 7}]}),
    json.dumps({"v": 1, "events": "🙃" * 10}),
    "[]",
]
POISON_WIRE = ["%%% not base64 %%%", base64.b64encode(b"\xff\xfe\x00 not utf-8").decode()]


def test_poison_messages_mixed_into_real_traffic_block_nothing(e2e: E2E) -> None:
    """Malformed messages among real ones: each tried maxDequeueCount times, then moved byte for byte
    to the poison queue; every real event is ingested and announced as if they were not there."""
    messages = traffic(seed=12, per_message=25)
    mixed: list[str] = list(messages)
    rng = random.Random(4)
    for bad in POISON:
        mixed.insert(rng.randrange(len(mixed)), bad)
    ingest, announce = e2e.worker("ingest", workers=4), e2e.worker("announce", workers=2)
    with running(ingest, announce):
        e2e.send(mixed)
        e2e.send_raw(POISON_WIRE)
        wait_until(idle(e2e, ingest, announce), timeout=240, what="queues drained")
    tries = host_settings().max_dequeue_count
    assert ingest.stats.poisoned == len(POISON) + len(POISON_WIRE)
    assert ingest.stats.failed == (len(POISON) + len(POISON_WIRE)) * tries
    assert ingest.stats.succeeded == len(messages)
    expected = sorted([base64.b64encode(b.encode()).decode() for b in POISON] + POISON_WIRE)
    assert sorted(e2e.poison_bodies(e2e.events_queue)) == expected
    e2e.sweep_until_sent()
    end_checks(e2e, messages)


def test_discord_answering_429_and_500_for_a_while(e2e: E2E) -> None:
    """Discord rate-limits (route and global 429s), fails (500 after storing the message, 503, dropped
    connections) for a while: every announcement ends sent, each posted exactly once."""
    fake = e2e.fake
    fake.fail_next(MESSAGES, 429, n=6, retry_after=0.3)
    fake.fail_next("*", 429, n=2, retry_after=0.2, is_global=True)
    fake.fail_next(MESSAGES, 500, n=8, after_commit=True)   # stored, but the answer says it failed
    fake.fail_next("*", 503, n=12)
    fake.fail_next(MESSAGES, 0, n=4)                        # connection dropped, no answer
    fake.fail_next(MESSAGES, 429, n=3, retry_after=6.0)     # longer than the client waits inline: rescheduled
    messages = traffic(seed=13)
    ingest, announce = e2e.worker("ingest", workers=2), e2e.worker("announce", workers=2)
    with running(ingest, announce):
        e2e.send(messages)
        wait_until(idle(e2e, ingest, announce), timeout=240, what="queues drained")
    e2e.sweep_until_sent()
    statuses = [r.status for r in fake.requests]
    assert 429 in statuses and 500 in statuses and 503 in statuses
    figures = end_checks(e2e, messages)
    assert figures["posted"] >= 10, figures


def test_an_exception_right_before_commit_then_redelivery(e2e: E2E, monkeypatch: Any) -> None:
    """Every message dies on its first delivery after all its writes, right before COMMIT: nothing of
    it stays, the redelivery credits it once."""
    real = ingest_service.run
    crashed: dict[str, int] = {}
    lock = threading.Lock()

    def crash_first_try(conn: sa.Connection, events: Any, **kw: Any) -> Any:
        result = real(conn, events, **kw)
        key = events[0].source_event_id
        with lock:
            first = key not in crashed
            if first:
                crashed[key] = result.postings
        if first:
            raise ConnectionResetError("worker killed before commit")
        return result

    monkeypatch.setattr(ingest_service, "run", crash_first_try)
    messages = traffic(seed=14)
    ingest, announce = e2e.worker("ingest", workers=3), e2e.worker("announce", workers=1)
    with running(ingest, announce):
        e2e.send(messages)
        wait_until(idle(e2e, ingest, announce), timeout=240, what="queues drained")
    assert ingest.stats.failed == len(messages) and ingest.stats.poisoned == 0
    assert sum(crashed.values()) > 0, "crashes happened after postings were written"
    e2e.sweep_until_sent()
    end_checks(e2e, messages)


CRASH_WORKER = PROJECT_ROOT / "tests/hardening/crash_worker.py"


def test_a_worker_killed_with_sigkill_between_ledger_write_and_commit(e2e: E2E, db_url: str, tmp_path: Path) -> None:
    """A real worker process gets SIGKILL after writing a message's lake rows, postings and outbox rows
    but before COMMIT: PostgreSQL drops the transaction; the message comes back after its lease and
    is credited exactly once by another worker."""
    messages = traffic(seed=15)
    e2e.send(messages)
    marker = tmp_path / "killed.json"
    env = {**os.environ, "SYNAPSE_ENV": "test", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.run(
        [sys.executable, str(CRASH_WORKER), "--db", db_url, "--storage", e2e.connection,
         "--queue", e2e.events_queue, "--announce-queue", e2e.announce_queue, "--kill-at", "3",
         "--lease", "4", "--marker", str(marker)],
        env=env, capture_output=True, timeout=180, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    killed = json.loads(marker.read_text())
    assert killed["postings"] > 0 and killed["new"] > 0, killed
    # What the killed transaction wrote is gone: its events are not in the lake.
    assert not set(killed["event_ids"]) & set(checks.lake_ids(e2e.engine)), "uncommitted rows survived"
    assert killed["committed"] == 2

    ingest, announce = e2e.worker("ingest", workers=2), e2e.worker("announce", workers=1)
    with running(ingest, announce):
        wait_until(idle(e2e, ingest, announce), timeout=240, what="the killed worker's message redelivered")
    assert ingest.stats.poisoned == 0
    e2e.sweep_until_sent()
    end_checks(e2e, messages)
