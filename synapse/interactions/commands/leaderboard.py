"""``/leaderboard [currency] [season] [period]``: top members, the caller's position, paging buttons.

``period`` (``all``, ``week``, ``month``, ``season``; ``synapse.services.periods``) ranks the
net earned this week / month / season instead of balances.
Paging buttons carry ``lb:{owner}:{currency}:{season}:{page}[:{period}]`` as ``custom_id``.
The member who asked pages the message in place (UPDATE_MESSAGE); anyone else
who clicks gets that page as a new ephemeral message, so nobody moves a shared
board under someone else's eyes.
"""

from __future__ import annotations

from synapse.db.uow import Conn
from synapse.errors import ValidationFailed
from synapse.interactions import responses as r
from synapse.interactions.commands import Command
from synapse.interactions.commands.common import amount, guild_of, mention
from synapse.interactions.context import Context, Reply
from synapse.interactions.models import Interaction
from synapse.services.periods import LABELS, parse_period
from synapse.services.profile import LeaderboardPage, leaderboard

PREFIX = "lb"


def run(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    page = leaderboard(conn, guild_id, interaction.option_str("currency"),
                       season_id=interaction.option_int("season"), viewer_id=interaction.invoker.user_id,
                       period=parse_period(interaction.option_str("period")), now=ctx.clock.now())
    return Reply(r.message(embeds=[render(page)], components=[buttons(page, interaction.invoker.user_id)]))


def on_component(ctx: Context, conn: Conn, interaction: Interaction) -> Reply:
    guild_id = guild_of(interaction)
    parts = (interaction.custom_id or "").split(":")
    if len(parts) not in (5, 6) or not parts[1].isdigit() or not parts[4].isdigit():
        raise ValidationFailed("this button is out of date; run /leaderboard again")
    owner, currency, season, number = int(parts[1]), parts[2], parts[3], int(parts[4])
    period = parse_period(parts[5] if len(parts) == 6 else None, path="custom_id")
    page = leaderboard(conn, guild_id, currency, season_id=int(season) if season.isdigit() else None,
                       page=number, viewer_id=interaction.invoker.user_id, period=period, now=ctx.clock.now())
    embeds = [render(page)]
    if interaction.invoker.user_id == owner:
        return Reply(r.update(embeds=embeds, components=[buttons(page, owner)]))
    clicker = interaction.invoker.user_id
    return Reply(r.message(embeds=embeds, components=[buttons(page, clicker)], ephemeral=True))


def custom_id(owner: int, page: LeaderboardPage, number: int) -> str:
    if page.period != "all":   # the period's season is the active one: the period says it all
        return f"{PREFIX}:{owner}:{page.currency}::{number}:{page.period}"
    season = "" if page.season_id is None else str(page.season_id)
    return f"{PREFIX}:{owner}:{page.currency}:{season}:{number}"


def buttons(page: LeaderboardPage, owner: int) -> r.Json:
    return r.row(
        r.button("◀ Previous", custom_id(owner, page, max(0, page.page - 1)), disabled=page.page == 0),
        r.button("Next ▶", custom_id(owner, page, page.page + 1), disabled=not page.has_next))


def render(page: LeaderboardPage) -> r.Json:
    unit = f"{page.symbol} {page.currency_name}".strip()
    lines = []
    for e in page.entries:
        level = f" · lvl {e.level}" if e.level is not None else ""
        who = "*a member who keeps their name private*" if e.hidden else mention(e.user_id)
        lines.append(f"**#{e.rank}** {who} — {amount(e.balance)}{level}")
    title = f"Leaderboard · {unit}" + (f" · {page.season_name}" if page.season_name else "")
    if page.period != "all":
        title += f" · {LABELS.get(page.period, page.period)}"
        if page.since is not None:
            lines.insert(0, f"-# Net earned since <t:{int(page.since.timestamp())}:f>\n")
        if not page.entries:
            lines.append("Nobody has earned any in this period yet.")
    footer = f"Page {page.page + 1}"
    if page.viewer is not None:
        approx = "" if page.viewer.rank_exact else "~"
        footer += f" · Your position: {approx}#{page.viewer.rank:,} ({amount(page.viewer.balance)})"
    else:
        footer += " · You are not ranked yet"
    return r.embed(title, description="\n".join(lines) or "Nobody has earned any yet.", footer=footer)


COMMAND = Command(name="leaderboard", run=run, module="economy", component_prefix=PREFIX,
                  on_component=on_component, read_only=True)
