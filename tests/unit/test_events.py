"""``make_event`` (the decoders' fast constructor) builds the same frozen ``Event`` as ``Event(...)``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from synapse.eventlake.events import DISCORD, Actor, Event, make_event

AT = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def test_make_event_equals_the_dataclass_constructor() -> None:
    args = (DISCORD, "message_create:1", "message_create", 1, 7, 501, AT, {"length": 12}, Actor(name="m7"), 42)
    fast, slow = make_event(*args), Event(*args)
    assert type(fast) is Event
    assert fast == slow
    assert dataclasses.astuple(fast) == dataclasses.astuple(slow)
    assert fast.key == (1, DISCORD, "message_create:1")


def test_make_event_is_frozen_like_any_event() -> None:
    event = make_event(DISCORD, "k", "reaction_add", 1, None, None, AT, {}, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.user_id = 8  # type: ignore[misc]
    assert dataclasses.replace(event, id=5).id == 5 and event.id is None
