"""``/privacy export|erase|hide|show``: a member's own data and visibility, in this server.

``hide`` keeps the member's name off public boards (the dashboard, /leaderboard): their
balances still count, shown without a name; ``show`` undoes it. Both answer at once.

Both can take longer than Discord's 3 seconds for a very active member, so both
are deferred: the export answers "thinking…" (ephemeral) and the follow-up
worker edits that message with the JSON file attached; erasure first asks for
confirmation with a button (``privacy:erase:{user}``), then acknowledges the
click (DEFERRED_UPDATE_MESSAGE) and the worker erases and edits the message.
Only the member who asked can press their buttons. Always available: a module
switch never takes away a member's rights over their data.
"""

from __future__ import annotations

from synapse.db.uow import Conn
from synapse.errors import ValidationFailed
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import guild_of
from synapse.interactions.context import Context, Reply
from synapse.interactions.followups import job_for
from synapse.interactions.models import Interaction
from synapse.services import profile

PREFIX = "privacy"


def run(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_of(interaction)
    if interaction.subcommand == "export":
        return Reply(r.deferred(ephemeral=True), job_for("privacy_export", interaction, ctx.clock.now()))
    if interaction.subcommand == "erase":
        me = interaction.invoker.user_id
        warning = r.embed("Erase your data in this server?", colour=r.ERROR_COLOUR, description=(
            "This deletes your activity history, balances, levels, milestones and cached profile here. "
            "It cannot be undone. Other members' history is not changed."))
        return Reply(r.message(embeds=[warning], ephemeral=True, components=[r.row(
            r.button("Erase my data", f"{PREFIX}:erase:{me}", style=r.DANGER),
            r.button("Cancel", f"{PREFIX}:cancel:{me}"))]))
    if interaction.subcommand in ("hide", "show"):
        public = interaction.subcommand == "show"
        profile.set_public(conn, guild_of(interaction), interaction.invoker.user_id, public=public)
        text = ("You appear by name on this server's public boards again." if public else
                "Done: your name no longer appears on this server's public boards "
                "(the dashboard and /leaderboard). `/privacy show` undoes it.")
        return Reply(r.message(text, ephemeral=True))
    raise ValidationFailed("choose `export`, `erase`, `hide` or `show`")


def on_component(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_of(interaction)
    parts = (interaction.custom_id or "").split(":")
    if len(parts) != 3 or parts[1] not in ("erase", "cancel") or not parts[2].isdigit():
        raise ValidationFailed("this button is out of date; run /privacy again")
    if int(parts[2]) != interaction.invoker.user_id:
        return Reply(r.error("This button belongs to someone else."))
    if parts[1] == "cancel":
        return Reply(r.update("Nothing was erased.", embeds=[], components=[]))
    return Reply(r.deferred_update(), job_for("privacy_erase", interaction, ctx.clock.now()))


COMMAND = Command(name="privacy", run=run, module=None, component_prefix=PREFIX, on_component=on_component)
