"""``/profile [member]`` (and ``/rank``): levels, balances, rank, progress, recent milestones and why points came in.

The answer is the embed, at once (inside Discord's 3 s, and the text fallback). Then a
``rank_card`` follow-up job draws the rank card (``synapse/interactions/rankcard.py``: avatar,
name, level, progress bar, rank) and edits the answer to attach it as a PNG. A card that cannot
be queued or drawn costs nothing but the picture: the embed has already answered.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from synapse.db.uow import Conn
from synapse.errors import NotFound
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import amount, avatar_url, bar, guild_of, mention, signed, when
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction
from synapse.interactions.rankcard import CardData
from synapse.services.profile import Profile, member_profile

log = logging.getLogger(__name__)


def run(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    target = interaction.option_user("member") or interaction.invoker.person
    try:
        profile = member_profile(conn, guild_id, target.user_id)
    except NotFound:
        who = "You have" if target.user_id == interaction.invoker.user_id else f"{mention(target.user_id)} has"
        return Reply(r.error(f"{who} no activity in this server yet."))
    name = target.name if target.user_id in interaction.people or target is interaction.invoker.person \
        else (profile.display_name or str(target.user_id))
    if profile.primary is not None:
        _queue_card(ctx, interaction, target.user_id, name, target.avatar or profile.avatar)
    return Reply(r.message(embeds=[render(profile, name, avatar_url(target, target.user_id, profile.avatar))]))


def _queue_card(ctx: Context, interaction: Interaction, target_id: int, name: str, avatar: str | None) -> None:
    """Queue the rank card now (a read-only command has nothing to commit first); never fail the answer."""
    from synapse.interactions.followups import rank_card_job

    try:
        ctx.enqueue(rank_card_job(interaction, ctx.clock.now(), target_id=target_id, name=name, avatar=avatar))
    except Exception:
        log.warning("rank card not queued; the embed answers alone", exc_info=True,
                    extra={"interaction_id": interaction.id})


def card_data(profile: Profile, name: str, avatar: bytes | None) -> CardData:
    """What the rank card shows: the primary currency's level, progress and rank (the embed's numbers)."""
    p = profile.primary
    if p is None:
        return CardData(name, avatar)
    return CardData(name, avatar, level=p.level, into_level=p.into_level, for_next=p.for_next, rank=p.rank,
                    rank_exact=p.rank_exact, currency_name=p.name, balance=p.balance)


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
