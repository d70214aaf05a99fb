"""Relay envelopes are what the pipeline consumes: decoded by the contract, ingested and credited.

The first test needs nothing but the envelope module. The second sends relay
batches through real Azurite and hands the queue messages to the ingest
service (``synapse.services.ingest.handle``) against a real PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest
import sqlalchemy as sa

from relay.batcher import Batcher, encode_event
from relay.pipeline import Pipeline
from relay.sender import QueueTransport
from synapse.eventlake.envelope import decode_envelope
from synapse.queues import queue_client
from tests.relay import payloads as p
from tests.relay.harness import Harness, run_frames

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def snowflake(at: datetime) -> str:
    return str(discord.utils.time_snowflake(at))


def test_relay_envelopes_decode_into_lake_events_with_the_relay_ids() -> None:
    """decode_envelope accepts relay batches and yields events with int snowflakes and intact payloads."""
    frames = [p.guild_create(voice_states=[p.voice_state(p.MASON, p.VOICE, with_member=False)]),
              p.message_create("hello there, this is a long enough message"), p.reaction_add(),
              p.voice_update(p.NELLY, p.VOICE), p.thread_create(), p.member_add(), p.member_remove(),
              p.message_delete()]
    wire = run_frames(frames, at=T0)
    batcher = Batcher()
    for event in wire:
        batcher.add(encode_event(event))
    [batch] = batcher.drain()
    events = decode_envelope(batch.text)
    assert [e.source_event_id for e in events] == [w["source_event_id"] for w in wire]
    message = next(e for e in events if e.event_type == "message_create")
    assert message.guild_id == int(p.GUILD) and message.user_id == int(p.MASON)
    assert message.payload["words"] == 8 and message.actor is not None and message.actor.name
    snapshot = next(e for e in events if e.event_type == "voice_state_snapshot")
    assert snapshot.user_id is None and snapshot.guild_id == int(p.GUILD)


@pytest.mark.integration
def test_relay_envelopes_through_azurite_are_ingested_and_credited(azurite, queue_name: str,
                                                                    engine: sa.Engine, tmp_path: Path) -> None:
    """Relay → Azurite → ingest.handle: every event lands once, the author earns XP and a Star."""
    from synapse.clock import FixedClock
    from synapse.db import ledger_store
    from synapse.services.guild_init import init_guild
    from synapse.services.ingest import handle

    guild = int(p.GUILD)
    with engine.begin() as conn:
        init_guild(conn, guild, name="Discord Developers")
    first, second = snowflake(T0), snowflake(T0 + timedelta(minutes=2))
    frames = [p.guild_create(), p.message_create("a message long enough to earn experience", mid=first),
              p.message_create("and another one, two minutes later on", mid=second),
              p.reaction_add(mid=first)]

    async def relay() -> int:
        transport = QueueTransport(queue_client(queue_name, connection=azurite.connection_string), timeout=2.0)
        pipeline = Pipeline(transport, tmp_path, linger=0.02)
        harness = Harness(pipeline.put)
        await harness.start()
        pipeline.start()
        await harness.feed(frames, at=T0 + timedelta(minutes=3))
        await pipeline.stop(grace=10)
        return pipeline.stats.events_out

    sent = asyncio.run(relay())
    assert sent == 5  # guild_join, snapshot, two messages, one reaction
    client = queue_client(queue_name, connection=azurite.connection_string)
    bodies = [m.content for m in client.receive_messages(max_messages=32, visibility_timeout=60)]
    assert bodies
    clock = FixedClock(T0 + timedelta(minutes=5))
    results = [handle(body, engine, clock=clock) for body in bodies]
    assert sum(r.new for r in results) == 5
    with engine.connect() as conn:
        lake = conn.execute(sa.text("SELECT source_event_id FROM event_lake WHERE guild_id = :g "
                                    "AND source_system = 'discord'"), {"g": guild}).scalars().all()
        balances = ledger_store.balances(conn, guild, int(p.MASON))
    assert f"message_create:{first}" in lake and f"reaction_add:{first}:{p.NELLY}:🔥" in lake
    assert balances.get("xp", 0) >= 30  # two messages, 15–25 XP each, a minute apart
    assert sum(v for k, v in balances.items() if k != "xp") >= 1  # the reaction's Star
    # Redelivery (at-least-once) credits nothing twice.
    again = [handle(body, engine, clock=clock) for body in bodies]
    assert all(r.duplicate for r in again)
    with engine.connect() as conn:
        assert ledger_store.balances(conn, guild, int(p.MASON)) == balances
