"""``/award member currency amount reason`` (admins): idempotent on the interaction id, audited."""

from __future__ import annotations

from synapse.admin.audit import Actor
from synapse.db.uow import Conn
from synapse.errors import ValidationFailed
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import amount, guild_of, member_option, mention, required_str, signed
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction
from synapse.services.awards import award


def run(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    member = member_option(interaction)
    if member.is_bot:
        raise ValidationFailed("bots do not earn currency")
    points = interaction.option_int("amount")
    if points is None or points == 0:
        raise ValidationFailed("`amount` must be a whole number other than 0")
    done = award(conn, guild_id, user_id=member.user_id, currency=required_str(interaction, "currency"),
                 amount=points, reason=required_str(interaction, "reason"),
                 actor=Actor.user(interaction.invoker.user_id, request_id=str(interaction.id)),
                 request_id=str(interaction.id), at=ctx.clock.now())
    note = " (already applied; nothing changed)" if done.repeated else ""
    return Reply(r.message(
        f"{signed(done.amount)} {done.currency} for {mention(done.user_id)} by {mention(interaction.invoker.user_id)}"
        f": balance {amount(done.balance_after)}{note}"))


COMMAND = Command(name="award", run=run, module="economy", admin=True)
