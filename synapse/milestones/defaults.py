"""The default milestones a new guild gets (``synapse guild init``; the rule pack: ``rules.defaults``)."""

from __future__ import annotations

from typing import Any, Final

from synapse.milestones.model import MilestoneSpec

DEFAULT_MILESTONES: Final[list[dict[str, Any]]] = [
    {"key": "first-message", "name": "First Words", "emoji": "💬",
     "description": "Sent a first message.",
     "criteria": {"type": "event_count", "event": "message_create", "at_least": 1}},
    {"key": "level-5", "name": "Regular", "emoji": "⭐", "description": "Reached level 5.",
     "criteria": {"type": "level", "currency": "xp", "at_least": 5},
     "rewards": [{"type": "currency", "currency": "gold", "amount": 50}]},
    {"key": "level-10", "name": "Veteran", "emoji": "🏅", "description": "Reached level 10.",
     "criteria": {"type": "level", "currency": "xp", "at_least": 10},
     "rewards": [{"type": "currency", "currency": "gold", "amount": 100}]},
    {"key": "messages-100", "name": "Chatterbox", "emoji": "🗨️", "description": "Sent 100 messages.",
     "criteria": {"type": "event_count", "event": "message_create", "at_least": 100}},
    {"key": "voice-10h", "name": "Night Owl", "emoji": "🎙️", "description": "Spent 10 hours in voice.",
     "criteria": {"type": "event_sum", "event": "voice_tick", "field": "minutes", "at_least": 600}},
    {"key": "first-thread", "name": "Conversation Starter", "emoji": "🧵", "description": "Started a first thread.",
     "criteria": {"type": "event_count", "event": "thread_create", "at_least": 1}},
]


def default_milestones() -> list[MilestoneSpec]:
    return [MilestoneSpec.model_validate(ms) for ms in DEFAULT_MILESTONES]
