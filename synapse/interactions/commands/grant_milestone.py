"""``/grant-milestone member milestone`` (admins): audited; granting twice says it was already earned."""

from __future__ import annotations

from synapse.admin.audit import Actor
from synapse.db.uow import Conn
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import guild_of, member_option, mention, required_str, when
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction
from synapse.services.milestones_admin import grant_milestone


def run(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    member = member_option(interaction)
    grant = grant_milestone(conn, guild_id, member.user_id, required_str(interaction, "milestone"),
                            actor=Actor.user(interaction.invoker.user_id, request_id=str(interaction.id)),
                            at=ctx.clock.now())
    m = grant.milestone
    if grant.already:
        return Reply(r.error(f"{mention(member.user_id)} already earned {m.emoji} **{m.name}** "
                             f"{when(grant.earned_at)}."))
    return Reply(r.message(f"{mention(member.user_id)} was granted {m.emoji} **{m.name}**.".replace("  ", " ")))


COMMAND = Command(name="grant-milestone", run=run, module="milestones", admin=True)
