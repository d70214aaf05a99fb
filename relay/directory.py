"""discord.py channel, role and guild changes → directory events (``channel_update``, ``role_update``,
``guild_update``; docs/relay.md).

They carry what the guild directory caches (names for ids, the AFK channel, the bot's own roles),
never member data. Ingest applies them to the cache (``synapse.services.directory.apply_events``)
instead of appending them to the Event Lake. Their ids embed the relay's receipt time: each one is
a new fact, and the service ignores one older than what it already holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import discord

from relay.clock import iso

Wire = dict[str, Any]
Action = Literal["create", "update", "delete"]


def _event(event_type: str, key: str, *, guild_id: int, channel_id: int | None, now: datetime,
           payload: Wire) -> Wire:
    at = iso(now)
    return {"source_system": "discord", "source_event_id": f"{event_type}:{key}:{at}", "event_type": event_type,
            "guild_id": str(guild_id), "user_id": None,
            "channel_id": None if channel_id is None else str(channel_id), "occurred_at": at, "payload": payload}


def channel_changed(channel: discord.abc.GuildChannel, action: Action, *, now: datetime) -> Wire:
    """A guild channel created, changed (name, position, category) or deleted."""
    parent = getattr(channel, "category_id", None)
    return _event("channel_update", str(channel.id), guild_id=channel.guild.id, channel_id=channel.id, now=now,
                  payload={"action": action, "name": channel.name, "type": int(channel.type.value),
                           "position": int(channel.position), "parent_id": None if parent is None else str(parent)})


def role_changed(role: discord.Role, action: Action, *, now: datetime) -> Wire:
    """A role created, changed (name, position, colour) or deleted."""
    return _event("role_update", str(role.id), guild_id=role.guild.id, channel_id=None, now=now,
                  payload={"action": action, "role_id": str(role.id), "name": role.name,
                           "position": int(role.position), "managed": bool(role.managed),
                           "color": int(role.colour.value)})


def guild_changed(guild: discord.Guild, *, now: datetime) -> Wire:
    """The guild's AFK channel (it may have changed, or been unset)."""
    afk = guild.afk_channel
    return _event("guild_update", str(guild.id), guild_id=guild.id, channel_id=None, now=now,
                  payload={"afk_channel_id": None if afk is None else str(afk.id)})


def bot_roles_changed(member: discord.Member, *, now: datetime) -> Wire:
    """The bot's own roles changed: which roles it can assign may have changed."""
    return _event("guild_update", f"bot:{member.id}", guild_id=member.guild.id, channel_id=None, now=now,
                  payload={"bot_role_ids": [str(r) for r in getattr(member, "_roles", ())]})
