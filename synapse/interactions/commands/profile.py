"""``/profile [member]``: levels, balances, rank, progress, recent milestones and why points came in."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Connection

from synapse.errors import NotFound
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import amount, avatar_url, bar, guild_of, mention, signed, when
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction
from synapse.services.profile import Profile, member_profile


def run(ctx: Context, conn: Connection, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    target = interaction.option_user("member") or interaction.invoker.person
    try:
        profile = member_profile(conn, guild_id, target.user_id)
    except NotFound:
        who = "You have" if target.user_id == interaction.invoker.user_id else f"{mention(target.user_id)} has"
        return Reply(r.error(f"{who} no activity in this server yet."))
    name = target.name if target.user_id in interaction.people or target is interaction.invoker.person \
        else (profile.display_name or str(target.user_id))
    return Reply(r.message(embeds=[render(profile, name, avatar_url(target, target.user_id, profile.avatar))]))


def render(profile: Profile, name: str, avatar: str | None) -> r.Json:
    lines = []
    primary = profile.primary
    if primary is not None:
        head = []
        if primary.level is not None:
            head.append(f"**Level {primary.level}**")
        if primary.rank is not None:
            approx = "" if primary.rank_exact else "~"
            head.append(f"rank **{approx}#{primary.rank:,}** in {primary.symbol} {primary.name}".replace("  ", " "))
        if head:
            lines.append(" · ".join(head))
        if primary.level is not None and primary.for_next:
            lines.append(f"{bar(primary.into_level, primary.for_next)} {amount(primary.into_level)}/"
                         f"{amount(primary.for_next)} to level {primary.level + 1}")
    fields: list[r.Json] = []
    for s in profile.standings:
        value = f"{amount(s.balance)}"
        if s.level is not None:
            value += f" · level {s.level}"
        fields.append({"name": f"{s.symbol} {s.name}".strip(), "value": value, "inline": True})
    if profile.recent_milestones:
        fields.append({"name": "Recent milestones", "value": "\n".join(
            f"{m.emoji} **{m.name}** {when(m.earned_at)}".strip() for m in profile.recent_milestones)})
    if profile.recent_reasons:
        fields.append({"name": "Recently earned", "value": "\n".join(
            f"{signed(x.amount)} {x.currency} · {x.rule_name or x.reason or x.kind}"
            + (f" ({x.event_type})" if x.event_type else "") for x in profile.recent_reasons)})
    return r.embed(f"{name}'s profile", description="\n".join(lines), fields=fields, thumbnail=avatar)


COMMAND = Command(name="profile", run=run, module="economy", read_only=True)
RANK = replace(COMMAND, name="rank")   # /rank: the same handler and options under the name other bots use
