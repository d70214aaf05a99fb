"""Hostile input: the envelope decoder never crashes, whatever the queue hands it."""

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse.errors import EnvelopeError
from synapse.eventlake.envelope import decode_envelope, encode_envelope

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

FIELDS = ["source_system", "source_event_id", "event_type", "guild_id", "user_id", "channel_id",
          "occurred_at", "payload", "actor"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=512) | st.text(max_size=512))
def test_arbitrary_bytes(body: bytes | str) -> None:
    """Random bytes or text either decode or raise EnvelopeError: nothing else escapes."""
    with contextlib.suppress(EnvelopeError):
        decode_envelope(body)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS)))
def test_structured_garbage(event: dict[str, object]) -> None:
    """Events with fields of any JSON type are validated, with every problem given a path."""
    try:
        events = decode_envelope(json.dumps({"v": 1, "events": [event]}))
    except EnvelopeError as exc:
        assert exc.details(), "a rejection must name what is wrong"
        assert all(d["path"] for d in exc.details())
    else:
        assert decode_envelope(encode_envelope(events)) == events
