"""The announce queue trigger: its binding, its message shapes, and poison for malformed messages."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import azure.functions as func
import pytest
import sqlalchemy as sa

from functions import announce as announce_function
from synapse.bootstrap import Container, set_container
from synapse.clock import FixedClock
from synapse.errors import EnvelopeError
from synapse.services import announce as announce_service
from synapse.services.announce import decode_message
from tests.support.fake_discord import FakeDiscord


def test_trigger_binding() -> None:
    """announce is a queue trigger on synapse-announce over AzureWebJobsStorage."""
    app = func.FunctionApp()
    app.register_functions(announce_function.bp)
    (fn,) = app.get_functions()
    binding = fn.get_bindings()[0].get_dict_repr()
    assert fn.get_function_name() == "announce"
    assert binding["type"] == "queueTrigger"
    assert binding["queueName"] == "synapse-announce"
    assert binding["connection"] == "AzureWebJobsStorage"


def test_decode_accepts_both_documented_shapes() -> None:
    """{"v":1,"outbox_ids":[..]} (the ingest side) and {"guild_id","ids"} both decode."""
    assert decode_message(b'{"v": 1, "outbox_ids": [3, 4]}') == (None, [3, 4])
    assert decode_message('{"guild_id": "789", "ids": ["5", 6]}') == (789, [5, 6])


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"outbox_ids": []}', b'{"ids": [1, "x"]}',
                                  b'{"ids": [true]}', b'{"guild_id": "abc", "ids": [1]}', b"\xff\xfe"])
def test_decode_rejects_malformed_messages(body: bytes) -> None:
    """Anything else is an EnvelopeError naming the problem."""
    with pytest.raises(EnvelopeError):
        decode_message(body)


def test_malformed_message_is_logged_and_raised_for_poison(caplog, monkeypatch) -> None:
    """The trigger logs a clear line and re-raises, so the host retries then moves it to poison."""
    monkeypatch.setattr(announce_service, "announcer_for", lambda container: None)
    monkeypatch.setattr("synapse.bootstrap.container", lambda: None)
    with caplog.at_level(logging.ERROR, logger="synapse.functions.announce"), pytest.raises(EnvelopeError):
        announce_function.handle(b'{"ids": "nope"}', message_id="m1", dequeue_count=2)
    line = next(r for r in caplog.records if r.name == "synapse.functions.announce")
    assert "rejected announce message" in line.getMessage() and "ids" in line.getMessage()
    assert line.dequeue_count == 2


@pytest.mark.integration
def test_queue_message_is_sent_through_the_container(db_url, engine, fake_discord: FakeDiscord) -> None:
    """A real message body goes through the trigger code to Discord, once."""
    with engine.begin() as conn:
        outbox_id = conn.execute(sa.text("""
            INSERT INTO outbox (guild_id, kind, dedupe_key, payload) VALUES (789, 'role_add', 'k1',
            CAST(:p AS jsonb)) RETURNING id"""), {"p": json.dumps({"user_id": "42", "role_id": "9",
                                                                   "reason": "r"})}).scalar_one()
    container = Container(fake_discord.settings(), clock=FixedClock(datetime.now(UTC)), database_url=db_url)
    set_container(container)
    try:
        body = json.dumps({"v": 1, "outbox_ids": [outbox_id]}).encode()
        announce_function.handle(body)
        announce_function.handle(body)  # redelivered
    finally:
        set_container(None)
    assert fake_discord.member_roles[("789", "42")] == {"9"}
    assert len(fake_discord.requests) == 1
