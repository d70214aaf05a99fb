"""At-least-once delivery, exactly-once crediting: duplicates, shuffling, concurrency and crashes change nothing."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.bootstrap import set_container
from synapse.db import ledger_store
from synapse.db.engine import make_engine
from synapse.eventlake.envelope import MAX_MESSAGE_BYTES, encode_envelope
from synapse.services import ingest as ingest_service
from synapse.simulate.community import SimulationConfig, simulate
from tests.pipeline import ledger_view
from tests.pipeline.conftest import GUILD, T0, Stack, make_stack
from tests.support import services

VOICE = {"voice_join", "voice_leave", "voice_move", "voice_state_snapshot"}


def relay_messages(seed: int = 11) -> list[str]:
    """A day of simulated traffic as the relay would batch it, one member's actions per message.

    Decisions that compare one event with another of the same member (cooldowns, clawbacks of a
    deleted message) see them in one message; the voice channel's company is one message too.
    Messages then arrive in any order, any number of times, on any worker.
    """
    events = simulate(SimulationConfig(seed=seed, guild_id=GUILD, members=20, days=1.0, end=T0 + timedelta(days=1)))
    by_member: dict[str, list[dict[str, Any]]] = {}
    voice: list[dict[str, Any]] = []
    for e in events:
        (voice if e["event_type"] in VOICE else by_member.setdefault(e["user_id"], [])).append(e)
    texts = [encode_envelope(mine) for mine in by_member.values()]
    texts.append(encode_envelope(voice))
    assert all(len(t) < MAX_MESSAGE_BYTES * 3 // 4 for t in texts), "each member's day fits one message"
    return texts


@pytest.fixture
def clean_pass(pg_template: str, azurite: Any, queue_name: str) -> Iterator[dict[str, Any]]:
    """The same messages, once each, in relay order, one worker, in a database of its own."""
    name = services.create_test_database()
    engine = make_engine(services.server_url(name), pool_size=5)
    s = make_stack(services.server_url(name), engine, azurite.connection_string, f"{queue_name}c")
    set_container(s.container)
    try:
        s.send(relay_messages())
        s.worker(workers=1).drain(timeout=60)
        yield ledger_view.snapshot(engine)
    finally:
        s.container.__dict__.pop("engine", None)
        set_container(None)
        engine.dispose()
        services.drop_test_database(name)


def test_three_shuffled_deliveries_on_four_workers_equal_one_clean_pass(clean_pass: dict[str, Any],
                                                                       stack: Stack) -> None:
    """Every message delivered three times, shuffled, 4 concurrent workers: the same ledger as one clean pass."""
    set_container(stack.container)
    messages = relay_messages() * 3
    random.Random(5).shuffle(messages)
    stack.send(messages)
    worker = stack.worker(workers=4)
    worker.drain(timeout=90)

    chaos = ledger_view.snapshot(stack.engine)
    assert worker.stats.poisoned == 0
    assert chaos["balances"] == clean_pass["balances"]
    assert chaos["transactions"] == clean_pass["transactions"]
    assert chaos["milestones"] == clean_pass["milestones"]
    assert chaos["outbox"] == clean_pass["outbox"]
    assert chaos["lake"] == clean_pass["lake"]
    assert chaos["member_totals"] == clean_pass["member_totals"] == ledger_view.member_totals_of_lake(stack.engine)
    assert sum(clean_pass["balances"].values()) > 0 and clean_pass["milestones"]
    assert any(field == "minutes" for _, _, _, field in chaos["member_totals"])   # voice ticks were summed
    with stack.engine.connect() as conn:
        assert ledger_store.verify(conn) == []
    from typer.testing import CliRunner

    from synapse.cli import app

    verify = CliRunner().invoke(app, ["ledger", "verify"])
    assert verify.exit_code == 0, verify.output


def test_crash_before_commit_then_redelivery_credits_exactly_once(stack: Stack, monkeypatch: Any) -> None:
    """A worker dying after all its writes but before COMMIT leaves nothing; the redelivery credits once."""
    real = ingest_service.run
    crashes: list[int] = []

    def crash_once(conn: sa.Connection, events: Any, **kw: Any) -> Any:
        result = real(conn, events, **kw)  # every write of the message has happened …
        if not crashes:
            crashes.append(result.postings)
            raise ConnectionResetError("worker killed before commit")  # … and is lost with the transaction
        return result

    monkeypatch.setattr(ingest_service, "run", crash_once)
    messages = relay_messages()[:3]
    stack.send(messages)
    worker = stack.worker(workers=1)
    worker.drain(timeout=60)

    assert crashes and crashes[0] > 0, "the crash happened after postings were written"
    assert worker.stats.failed == 1 and worker.stats.succeeded == 3 and worker.stats.poisoned == 0
    crashed = ledger_view.snapshot(stack.engine)
    # Deliver all of them again: nothing new may be credited.
    stack.send(messages)
    worker.drain(timeout=60)
    assert ledger_view.snapshot(stack.engine) == crashed
    keys = stack.scalar("SELECT count(*) FROM transactions")
    assert keys == stack.scalar("SELECT count(DISTINCT idempotency_key) FROM transactions")
    with stack.engine.connect() as conn:
        assert ledger_store.verify(conn) == []


def test_crash_before_commit_equals_no_crash(stack: Stack, monkeypatch: Any) -> None:
    """The ledger after crash + redelivery equals the ledger of a run that never crashed (same database)."""
    messages = relay_messages()[:4]
    stack.send(messages)
    stack.worker(workers=1).drain(timeout=60)
    expected = ledger_view.snapshot(stack.engine)
    with stack.engine.begin() as conn:  # start over: same database, empty ledger and lake
        conn.execute(sa.text("ALTER TABLE transactions DISABLE TRIGGER USER"))
        conn.execute(sa.text("TRUNCATE transactions, wallets, event_lake, user_milestones, outbox, voice_sessions, "
                             "member_cache, rule_state"))
        conn.execute(sa.text("ALTER TABLE transactions ENABLE TRIGGER USER"))
    real = ingest_service.run
    calls: list[int] = []

    def crash_every_other(conn: sa.Connection, events: Any, **kw: Any) -> Any:
        result = real(conn, events, **kw)
        calls.append(1)
        if len(calls) % 2:
            raise RuntimeError("injected crash before commit")
        return result

    monkeypatch.setattr(ingest_service, "run", crash_every_other)
    stack.send(messages)
    worker = stack.worker(workers=1)
    worker.drain(timeout=60)
    assert worker.stats.failed >= 2 and worker.stats.poisoned == 0
    assert ledger_view.snapshot(stack.engine) == expected
