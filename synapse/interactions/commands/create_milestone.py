"""``/create-milestone key name criterion at_least [currency] [event] [description] [emoji] [hidden]`` (admins)."""

from __future__ import annotations

from typing import Any

from synapse.admin.audit import Actor
from synapse.db.uow import Conn
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import guild_of, required_str
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction
from synapse.services.milestones_admin import create_milestone


def criteria(interaction: Interaction) -> dict[str, Any]:
    kind = required_str(interaction, "criterion")
    spec: dict[str, Any] = {"type": kind, "at_least": interaction.option_int("at_least")}
    if kind in ("level", "balance"):
        spec["currency"] = interaction.option_str("currency") or "xp"
    elif kind == "event_count":
        spec["event"] = interaction.option_str("event") or "message_create"
    return spec


def run(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    data: dict[str, Any] = {
        "key": required_str(interaction, "key"), "name": required_str(interaction, "name"),
        "description": interaction.option_str("description") or "", "emoji": interaction.option_str("emoji") or "",
        "hidden": bool(interaction.options.get("hidden", False)), "criteria": criteria(interaction)}
    made = create_milestone(conn, guild_id, data,
                            actor=Actor.user(interaction.invoker.user_id, request_id=str(interaction.id)))
    return Reply(r.message(f"Milestone {made.emoji} **{made.name}** (`{made.key}`) created.".replace("  ", " "),
                           ephemeral=True))


COMMAND = Command(name="create-milestone", run=run, module="milestones", admin=True)
