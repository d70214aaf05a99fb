"""Small helpers shared by command handlers: formatting and option checks."""

from __future__ import annotations

from datetime import datetime

from synapse.errors import NotFound, ValidationFailed
from synapse.interactions.models import Interaction, Person


def amount(value: int) -> str:
    return f"{value:,}"


def signed(value: int) -> str:
    return f"{value:+,}"


def when(at: datetime | None) -> str:
    """A Discord timestamp tag: every reader sees it in their own time zone."""
    return "" if at is None else f"<t:{int(at.timestamp())}:R>"


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


def avatar_url(person: Person | None, user_id: int, avatar: str | None = None) -> str | None:
    avatar = avatar or (person.avatar if person else None)
    if not avatar:
        return None
    ext = "gif" if avatar.startswith("a_") else "png"
    return f"https://cdn.discordapp.com/avatars/{user_id}/{avatar}.{ext}"


def guild_of(interaction: Interaction) -> int:
    if interaction.guild_id is None:
        raise ValidationFailed("use this command in a server, not in a DM")
    return interaction.guild_id


def member_option(interaction: Interaction, name: str = "member") -> Person:
    """A USER option that must be a member of this server (Discord lists members in data.resolved.members)."""
    person = interaction.option_user(name)
    if person is None:
        raise ValidationFailed(f"choose a member for `{name}`")
    if person.user_id not in interaction.member_ids:
        raise NotFound(f"{mention(person.user_id)} is not a member of this server")
    return person


def required_str(interaction: Interaction, name: str) -> str:
    value = interaction.option_str(name)
    if value is None or not value.strip():
        raise ValidationFailed(f"`{name}` is required")
    return value.strip()


def bar(done: int, total: int, width: int = 12) -> str:
    if total <= 0:
        return "▰" * width
    filled = max(0, min(width, round(width * done / total)))
    return "▰" * filled + "▱" * (width - filled)
