"""Envelopes sent as the relay sends them, processed by the ingest queue trigger against Azurite + PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from synapse.db import ledger_store
from synapse.services import outbox_queue
from synapse.simulate.community import SimulationConfig, envelopes, simulate
from tests.pipeline.conftest import GUILD, T0, Stack


def traffic(days: float = 1.0, members: int = 24, seed: int = 3) -> list[dict]:
    return simulate(SimulationConfig(seed=seed, guild_id=GUILD, members=members, days=days,
                                     end=T0 + timedelta(days=days)))


def test_simulated_traffic_lands_in_lake_ledger_and_outbox(stack: Stack) -> None:
    """Every simulated event reaches the lake once; members earn; level-ups wait in the outbox and are enqueued."""
    events = traffic()
    stack.send(list(envelopes(events, max_events=100)))
    worker = stack.worker()
    worker.drain(timeout=60)

    distinct = {e["source_event_id"] for e in events}
    assert stack.scalar("SELECT count(*) FROM event_lake WHERE source_system = 'discord'") == len(distinct)
    assert worker.stats.failed == 0 and worker.stats.poisoned == 0
    assert stack.scalar("SELECT count(*) FROM wallets WHERE balance > 0") > 5
    assert stack.scalar("SELECT count(*) FROM event_lake WHERE event_type = 'level_up'") > 0
    assert stack.scalar("SELECT count(*) FROM user_milestones") > 0
    assert stack.scalar("SELECT count(*) FROM member_cache") >= 20
    pending = stack.scalar("SELECT count(*) FROM outbox WHERE status = 'pending'")
    assert pending > 0
    with stack.engine.connect() as conn:
        assert ledger_store.verify(conn) == []
    # The outbox ids went to the announce queue after commit, each exactly once.
    client_ids: list[int] = []
    from synapse.queues import queue_client

    announce = queue_client(stack.announce_queue, connection=stack.connection)
    while batch := list(announce.receive_messages(max_messages=32, visibility_timeout=60)):
        for m in batch:
            client_ids.extend(outbox_queue.decode(m.content))
            announce.delete_message(m)
    assert sorted(client_ids) == sorted(set(client_ids))
    assert len(client_ids) == stack.scalar("SELECT count(*) FROM outbox")
    assert json.loads(outbox_queue.encode([1, 2])) == {"v": 1, "outbox_ids": [1, 2]}


def test_a_guild_never_initialised_sets_itself_up_and_earns_from_its_first_events(stack: Stack) -> None:
    """A guild the bot joined with no `synapse guild init`: its first events install the default pack and earn."""
    other = 1_300_000_000_000_000_001
    assert stack.scalar("SELECT count(*) FROM guilds WHERE guild_id = :g", g=other) == 0
    events = simulate(SimulationConfig(seed=12, guild_id=other, members=6, days=0.2, end=T0 + timedelta(hours=5)))
    stack.send(list(envelopes(events)))
    worker = stack.worker(workers=2)
    worker.drain(timeout=30)
    assert worker.stats.failed == 0
    distinct = len({e["source_event_id"] for e in events})
    assert stack.scalar("SELECT count(*) FROM event_lake WHERE guild_id = :g AND source_system = 'discord'",
                        g=other) == distinct
    assert stack.scalar("SELECT count(*) FROM rules WHERE guild_id = :g", g=other) > 0
    assert stack.scalar("SELECT count(*) FROM transactions WHERE guild_id = :g AND kind = 'rule'", g=other) > 0
    # Set up exactly once, whichever worker saw the guild first, and audited as onboarding.
    assert stack.scalar("SELECT count(*) FROM admin_log WHERE guild_id = :g AND action = 'guild.init'", g=other) == 1
    assert stack.scalar("SELECT request_id FROM admin_log WHERE guild_id = :g AND action = 'guild.init'",
                        g=other) == "onboarding:event"
    assert stack.scalar("""SELECT count(*) FROM wallets w WHERE w.guild_id = :g AND w.balance <>
                           (SELECT COALESCE(sum(amount), 0) FROM transactions t WHERE t.guild_id = w.guild_id
                             AND t.user_id = w.user_id AND t.currency_key = w.currency_key)""", g=other) == 0
