"""``/milestones [member]``: what a member has earned, and what is still available."""

from __future__ import annotations

from synapse.db.uow import Conn
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import guild_of, when
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction
from synapse.services.profile import member_milestones

MAX_LINES = 20


def run(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    target = interaction.option_user("member") or interaction.invoker.person
    board = member_milestones(conn, guild_id, target.user_id)
    earned = [f"{m.emoji} **{m.name}** {when(m.earned_at)}".strip() for m in board.earned[:MAX_LINES]]
    available = [f"{m.emoji} **{m.name}**" + (f" — {m.description}" if m.description else "")
                 for m in board.available[:MAX_LINES]]
    fields = [
        {"name": f"Earned ({len(board.earned)})", "value": "\n".join(earned) or "None yet."},
        {"name": f"Available ({len(board.available)})", "value": "\n".join(available) or "All earned!"},
    ]
    return Reply(r.message(embeds=[r.embed(f"{target.name}'s milestones", fields=fields)]))


COMMAND = Command(name="milestones", run=run, module="milestones", read_only=True)
