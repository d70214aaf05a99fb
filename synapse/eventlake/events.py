"""The event type everything downstream of the envelope works with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
