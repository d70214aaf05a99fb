"""The event type everything downstream of the envelope works with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Final

# Captured by the relay (DESIGN.md §2).
CAPTURED_TYPES: Final = frozenset({
    "message_create", "message_delete", "reaction_add", "reaction_remove",
    "voice_join", "voice_leave", "voice_move", "voice_state_snapshot",
    "thread_create", "member_join", "member_leave", "command_used",
})
# Written by the engine itself.
DERIVED_TYPES: Final = frozenset({"voice_session_end", "voice_tick", "level_up", "milestone_earned"})
KNOWN_TYPES: Final = CAPTURED_TYPES | DERIVED_TYPES

DISCORD: Final = "discord"
SYNAPSE: Final = "synapse"  # source_system of derived events


@dataclass(frozen=True, slots=True)
class Actor:
    """Display data of the member who acted, as the relay saw it (cached, not stored in the lake)."""

    name: str | None = None
    avatar: str | None = None
    bot: bool = False
    roles: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a guild. ``id`` is the lake row id once stored."""

    source_system: str
    source_event_id: str
    event_type: str
    guild_id: int
    user_id: int | None
    channel_id: int | None
    occurred_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    actor: Actor | None = None
    id: int | None = None

    @property
    def key(self) -> tuple[int, str, str]:
        """The natural key the lake deduplicates on."""
        return (self.guild_id, self.source_system, self.source_event_id)


# The generated ``__init__`` of a frozen dataclass calls ``object.__setattr__`` once per field,
# more than half the cost of decoding an event; writing through the slot descriptors is the
# same assignment without the generic attribute lookup. The event stays frozen afterwards.
(_set_source_system, _set_source_event_id, _set_event_type, _set_guild_id, _set_user_id, _set_channel_id,
 _set_occurred_at, _set_payload, _set_actor, _set_id) = (getattr(Event, f.name).__set__ for f in fields(Event))


def make_event(source_system: str, source_event_id: str, event_type: str, guild_id: int, user_id: int | None,
               channel_id: int | None, occurred_at: datetime, payload: Mapping[str, Any], actor: Actor | None,
               id: int | None) -> Event:
    """``Event(...)`` with every field given, for decoders on hot paths; equal to one built the usual way."""
    e: Event = object.__new__(Event)
    _set_source_system(e, source_system)
    _set_source_event_id(e, source_event_id)
    _set_event_type(e, event_type)
    _set_guild_id(e, guild_id)
    _set_user_id(e, user_id)
    _set_channel_id(e, channel_id)
    _set_occurred_at(e, occurred_at)
    _set_payload(e, payload)
    _set_actor(e, actor)
    _set_id(e, id)
    return e
