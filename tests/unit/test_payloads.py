"""Payload types (``synapse.eventlake.payloads``): the envelope checks them, the rules' whitelist is them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from synapse.errors import EnvelopeError, ValidationFailed
from synapse.eventlake.envelope import decode_envelope
from synapse.eventlake.events import DERIVED_TYPES, KNOWN_TYPES
from synapse.eventlake.payloads import PAYLOAD_TYPES, check_payload, payload_fields
from synapse.processing.loop import run
from synapse.rules.model import validate_rule
from synapse.rules.simulate import simulate
from tests.unit.rules.support import G, default_context, state


def event(event_type: str, payload: dict[str, Any], *, n: int = 1, source: str = "discord") -> dict[str, Any]:
    return {"source_system": source, "source_event_id": f"{event_type}:{n}", "event_type": event_type,
            "guild_id": "789", "user_id": "123", "channel_id": "456", "occurred_at": "2025-01-15T14:30:00Z",
            "payload": payload}


def problems(*events: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(EnvelopeError) as info:
        decode_envelope(json.dumps({"v": 1, "events": list(events)}))
    return {d["path"]: d["message"] for d in info.value.details()}


@pytest.mark.parametrize(("event_type", "payload", "path", "fragment"), [
    ("message_create", {"length": "312"}, "length", "valid integer"),
    ("message_create", {"has_code_block": 1}, "has_code_block", "valid boolean"),
    ("message_create", {"words": -1}, "words", "greater than or equal to 0"),
    ("message_create", {"reply_to_user_id": 123}, "reply_to_user_id", "valid string"),
    ("reaction_add", {"message_author_id": str(2**63)}, "message_author_id", "64-bit"),
    ("voice_state_snapshot", {"members": [{"user_id": "1", "self_mute": False}, {"user_id": "2", "self_mute": "no"}]},
     "members[1].self_mute", "valid boolean"),
    ("member_join", {"account_created_at": "last tuesday"}, "account_created_at", "ISO 8601"),
    ("voice_tick", {"minutes": 1.5}, "minutes", "valid integer"),
    ("level_up", {"new_level": "3"}, "new_level", "valid integer"),
])
def test_a_payload_field_of_the_wrong_type_is_refused_with_its_path(event_type: str, payload: dict[str, Any],
                                                                     path: str, fragment: str) -> None:
    """A declared payload key with a value of another type is an envelope error at events[i].payload.<key>."""
    good = [event("message_create", {"length": 3}, n=n) for n in range(3)]
    found = problems(*good, event(event_type, payload, n=9))
    assert list(found) == [f"events[3].payload.{path}"]
    assert fragment in found[f"events[3].payload.{path}"]


def test_every_payload_problem_is_listed_next_to_the_others() -> None:
    """Two bad payload keys and a bad envelope field in one message: all three are named."""
    bad = dict(event("message_create", {"length": "long", "links": None}), guild_id="x")
    assert set(problems(bad)) == {"events[0].guild_id", "events[0].payload.length", "events[0].payload.links"}


def test_unknown_keys_are_kept_and_missing_keys_allowed() -> None:
    """A newer producer's extra key passes and stays in the payload; an older one's missing keys are fine."""
    [newer, older] = decode_envelope(json.dumps({"v": 1, "events": [
        event("message_create", {"length": 3, "sticker_count": 2, "poll": {"answers": 4}}, n=1),
        event("reaction_add", {}, n=2)]}))
    assert newer.payload == {"length": 3, "sticker_count": 2, "poll": {"answers": 4}}
    assert older.payload == {}


def test_other_source_systems_keep_their_own_payload_shapes() -> None:
    """Only discord/synapse payloads are typed: another source's message_create may say what it likes."""
    [other] = decode_envelope(json.dumps({"v": 1, "events": [
        event("message_create", {"length": "long"}, source="github")]}))
    assert other.payload == {"length": "long"}
    with pytest.raises(EnvelopeError):
        decode_envelope(json.dumps({"v": 1, "events": [event("message_create", {"length": "long"})]}))


def test_the_rules_whitelist_is_the_payload_types_fields() -> None:
    """For every event type, a rule may read exactly the keys its payload type declares, no other."""
    assert set(PAYLOAD_TYPES) == KNOWN_TYPES
    for event_type in sorted(KNOWN_TYPES):
        fields = payload_fields(event_type)
        assert fields, event_type
        for name in sorted(fields):
            validate_rule(rule(event_type, name))
        with pytest.raises(ValidationFailed) as info:
            validate_rule(rule(event_type, "not_a_declared_key"))
        [detail] = info.value.errors
        assert detail.path == "conditions[0].field"
        assert detail.message.endswith(f"known: {', '.join(sorted(fields))}")


def rule(event_type: str, name: str) -> dict[str, Any]:
    return {"name": "r", "trigger": {"event": event_type},
            "conditions": [{"type": "payload", "field": name, "op": "exists", "value": True}],
            "effects": [{"type": "check_milestones"}]}


def test_the_engines_derived_events_have_valid_payloads() -> None:
    """level_up and milestone_earned, as the engine writes them over a simulated day, match their types."""
    st = state()
    run(default_context(), st, simulate(G, members=20, hours=24, seed=3))
    kinds = {e.event_type for e in st.derived}
    assert {"level_up", "milestone_earned"} <= kinds <= DERIVED_TYPES
    for derived in st.derived:
        check_payload(derived.event_type, derived.payload)
        assert set(derived.payload) <= (payload_fields(derived.event_type) or set()), derived.event_type


@pytest.mark.parametrize(("snowflake", "fits"), [
    (str(2**63 - 1), True), (str(2**63), False), ("0" + str(2**63 - 1), True), ("0" + str(2**63), False),
    ("1", True), ("9" * 18, True), ("9" * 19, False), ("0" * 20, True), ("0" * 21, False), ("", False),
    ("12a", False), ("١٢", False),
])
def test_snowflakes_are_range_checked_by_their_pattern(snowflake: str, fits: bool) -> None:
    """Envelope and payload snowflakes: digits that fit BIGINT pass, anything else is refused with its path."""
    wire = dict(event("reaction_add", {"message_id": snowflake}), guild_id=snowflake)
    if fits:
        [decoded] = decode_envelope(json.dumps({"v": 1, "events": [wire]}))
        assert decoded.guild_id == int(snowflake) and decoded.payload["message_id"] == snowflake
    else:
        assert set(problems(wire)) == {"events[0].guild_id", "events[0].payload.message_id"}
