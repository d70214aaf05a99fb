"""A message that can never be processed ends in the poison queue after maxDequeueCount tries, blocking nothing."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from typing import Any

from synapse.runner.discovery import host_settings
from synapse.runner.queue_worker import raw_client
from synapse.simulate.community import SimulationConfig, envelopes, simulate
from tests.pipeline.conftest import GUILD, T0, Stack

BAD = [
    "this is not json",
    '{"v": 1, "events": [{"source_system": "discord", "event_type": "message_create"}]}',
    '{"v": 2, "events": []}',
]


def test_malformed_messages_go_to_poison_after_max_dequeue_count(stack: Stack, caplog: Any) -> None:
    """Each bad message is tried maxDequeueCount times, logged with what is wrong, then poisoned byte for byte."""
    good = list(envelopes(simulate(SimulationConfig(seed=2, guild_id=GUILD, members=8, days=0.25,
                                                    end=T0 + timedelta(hours=6)))))
    stack.send([BAD[0], *good[:1], BAD[1], *good[1:], BAD[2]])
    raw_client(stack.connection, stack.events_queue).send_message("%%% not base64 %%%")  # not even base64
    worker = stack.worker(workers=2)
    with caplog.at_level(logging.ERROR):
        worker.drain(timeout=60)

    max_tries = host_settings().max_dequeue_count
    assert worker.stats.poisoned == 4
    assert worker.stats.failed == 4 * max_tries
    assert worker.stats.succeeded == len(good)
    assert stack.scalar("SELECT count(*) FROM event_lake WHERE source_system = 'discord'") > 0
    poison = raw_client(stack.connection, f"{stack.events_queue}-poison")  # compare the wire text
    bodies = sorted(m.content for m in poison.peek_messages(max_messages=32))
    expected = sorted([base64.b64encode(b.encode()).decode() for b in BAD] + ["%%% not base64 %%%"])
    assert bodies == expected
    rejected = [r for r in caplog.records if r.getMessage().startswith("rejected malformed envelope")]
    assert len(rejected) == 3 * max_tries
    assert any("events[0].source_event_id" in r.getMessage() for r in rejected)
    assert any("unsupported envelope version 2" in r.getMessage() for r in rejected)
    moved = [r for r in caplog.records if r.getMessage() == "message moved to poison queue"]
    assert len(moved) == 4 and all(r.dequeue_count == max_tries for r in moved)  # type: ignore[attr-defined]


def test_requeue_poison_moves_messages_back_byte_for_byte(stack: Stack) -> None:
    """After the cause is fixed, poisoned messages go back to their queue unchanged and are processed."""
    from synapse.runner.poison import requeue_poison

    good = list(envelopes(simulate(SimulationConfig(seed=8, guild_id=GUILD, members=5, days=0.1,
                                                    end=T0 + timedelta(hours=2)))))
    poison = raw_client(stack.connection, f"{stack.events_queue}-poison")
    poison.create_queue()
    for text in good:  # as the host leaves them: the wire text, base64
        poison.send_message(base64.b64encode(text.encode()).decode())
    assert requeue_poison(stack.connection, stack.events_queue).moved == len(good)
    worker = stack.worker()
    worker.drain(timeout=30)
    assert worker.stats.succeeded == len(good) and worker.stats.poisoned == 0
    assert stack.scalar("SELECT count(*) FROM event_lake WHERE source_system = 'discord'") > 0


def test_message_dequeued_past_the_limit_by_dead_workers_is_poisoned_unprocessed(stack: Stack) -> None:
    """Workers that died holding a message still count: past maxDequeueCount it goes to poison untried."""
    text = next(iter(envelopes(simulate(SimulationConfig(seed=8, guild_id=GUILD, members=5, days=0.1,
                                                         end=T0 + timedelta(hours=2))))))
    stack.send([text])
    raw = raw_client(stack.connection, stack.events_queue)
    for _ in range(host_settings().max_dequeue_count):  # each receive is a worker that vanished mid-message
        (message,) = list(raw.receive_messages(max_messages=1, visibility_timeout=30))
        raw.update_message(message, visibility_timeout=0)
    worker = stack.worker()
    worker.drain(timeout=30)
    assert worker.stats.poisoned == 1 and worker.stats.failed == 0 and worker.stats.succeeded == 0
    assert stack.scalar("SELECT count(*) FROM event_lake") == 0
