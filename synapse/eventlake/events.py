"""The event type everything downstream of the envelope works with."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Final

# Captured by the relay (DESIGN.md §2).
CAPTURED_TYPES: Final = frozenset({
    "message_create", "message_delete", "reaction_add", "reaction_remove",
    "voice_join", "voice_leave", "voice_move", "voice_state_snapshot",
    "thread_create", "member_join", "member_leave", "command_used", "guild_join",
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


class _Draft:
    """``Event``'s slots, writable. The generated ``__init__`` of a frozen dataclass calls
    ``object.__setattr__`` once per field (half the cost of decoding an event); ``make_event``
    fills a draft with plain assignments instead and relabels it an ``Event``, which Python
    allows between classes with the same ``__slots__`` (Data model, "__class__ assignment")."""

    __slots__ = Event.__slots__

    def __init__(self, source_system: str, source_event_id: str, event_type: str, guild_id: int,
                 user_id: int | None, channel_id: int | None, occurred_at: datetime, payload: Mapping[str, Any],
                 actor: Actor | None, id: int | None) -> None:
        self.source_system = source_system
        self.source_event_id = source_event_id
        self.event_type = event_type
        self.guild_id = guild_id
        self.user_id = user_id
        self.channel_id = channel_id
        self.occurred_at = occurred_at
        self.payload = payload
        self.actor = actor
        self.id = id


def make_event(source_system: str, source_event_id: str, event_type: str, guild_id: int, user_id: int | None,
               channel_id: int | None, occurred_at: datetime, payload: Mapping[str, Any], actor: Actor | None,
               id: int | None) -> Event:
    """``Event(...)`` with every field given, for decoders on hot paths; equal to one built the usual way
    (and as frozen: once relabelled, ``Event.__setattr__`` refuses writes)."""
    draft = _Draft(source_system, source_event_id, event_type, guild_id, user_id, channel_id, occurred_at, payload,
                   actor, id)
    draft.__class__ = Event  # type: ignore[assignment]
    return draft  # type: ignore[return-value]  # relabelled: an Event now (no cast() call on the hot path)


def with_id(event: Event, id: int) -> Event:
    """``dataclasses.replace(event, id=id)``, through ``make_event`` (the loop numbers derived events with it)."""
    return make_event(event.source_system, event.source_event_id, event.event_type, event.guild_id, event.user_id,
                      event.channel_id, event.occurred_at, event.payload, event.actor, id)


# What ``make_event`` relies on, checked at import: ``_Draft.__init__`` sets every field of ``Event`` (an
# unset slot would fail on first read), and ``Event`` has no ``__post_init__`` (``make_event`` skips it).
if (list(inspect.signature(_Draft.__init__).parameters)[1:] != [f.name for f in fields(Event)]
        or hasattr(Event, "__post_init__")):  # pragma: no cover - caught at import
    raise RuntimeError("_Draft.__init__ must set exactly Event's fields, in order, and Event have no __post_init__")
