"""The envelope decoder accepts what the relay sends and names every problem in what it should not."""

import base64
import json

import pytest

from synapse.errors import EnvelopeError
from synapse.eventlake.envelope import decode_envelope, encode_envelope

GOOD = {"source_system": "discord", "source_event_id": "message_create:1187", "event_type": "message_create",
        "guild_id": "789", "user_id": "123", "channel_id": "456", "occurred_at": "2025-01-15T14:30:00Z",
        "payload": {"length": 312, "words": 51, "has_code_block": True},
        "actor": {"name": "ada", "avatar": "a1b2", "bot": False, "roles": ["111"]}}


def test_round_trip_plain_and_base64() -> None:
    """An envelope decodes the same from JSON text and from its base64 wire form."""
    text = json.dumps({"v": 1, "events": [GOOD]})
    events = decode_envelope(text)
    assert events == decode_envelope(base64.b64encode(text.encode()).decode())
    event = events[0]
    assert (event.guild_id, event.user_id, event.channel_id) == (789, 123, 456)
    assert event.actor is not None and event.actor.roles == (111,)
    assert decode_envelope(encode_envelope(events)) == events


def test_every_problem_is_named_with_its_path() -> None:
    """Several bad fields give several errors, each with the JSON path of the field."""
    bad = dict(GOOD, guild_id="12ab", occurred_at="2025-01-15T14:30:00", payload={"content": "hi"})
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(json.dumps({"v": 1, "events": [GOOD, bad]}))
    paths = {d["path"] for d in info.value.details()}
    assert {"events[1].guild_id", "events[1].occurred_at", "events[1].payload"} <= paths


@pytest.mark.parametrize(("body", "fragment"), [
    ("not json at all {", "neither JSON nor base64"),
    ('{"v": 2, "events": []}', "v"),
    ('{"v": 1, "events": []}', "events"),
    ('{"v": 1}', "events"),
    (b"\xff\xfe", "not"),
])
def test_malformed_bodies(body: str | bytes, fragment: str) -> None:
    """Malformed bodies raise EnvelopeError (never another exception) with a useful message."""
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(body)
    assert fragment in str(info.value)


def test_snowflake_range_checked() -> None:
    """A snowflake that does not fit BIGINT is refused, not truncated."""
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(json.dumps({"v": 1, "events": [dict(GOOD, user_id=str(2**64))]}))
    assert "events[0]" in str(info.value) or "64-bit" in str(info.value)


def test_nul_characters_refused_up_front() -> None:
    """NUL characters (which PostgreSQL cannot store) are refused at decode time with their path."""
    bad = dict(GOOD, payload={"emoji": "a\u0000b"}, actor={"name": "x\u0000"})
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(json.dumps({"v": 1, "events": [bad]}))
    assert {"events[0].payload", "events[0].actor.name"} <= {d["path"] for d in info.value.details()}
