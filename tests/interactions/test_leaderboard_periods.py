"""/leaderboard period:week|month|season — the net earned in the window, paged with the period kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from synapse.db.ledger_store import post
from synapse.ledger.curves import LevelCurve, PolynomialCurve
from synapse.ledger.model import Kind, Posting
from synapse.services.periods import PERIODS
from tests.interactions import payloads as p
from tests.interactions.conftest import GUILD, NOW, World

EVE = p.user(53908232506183680, "eve")
PLAIN = p.member(EVE)
MONDAY = datetime(2025, 3, 10, tzinfo=UTC)      # NOW is Wednesday 12 March 2025 (UTC guild)


def _post(world: World, rows: list[tuple[int, int, Kind, datetime]]) -> None:
    with world.engine.begin() as conn:
        post(conn, [Posting(guild_id=GUILD, user_id=uid, currency="xp", amount=amount, kind=kind,
                            idempotency_key=f"p:{i}", occurred_at=at) for i, (uid, amount, kind, at) in
                    enumerate(sorted(rows, key=lambda r: r[3]))])


def _lines(response: dict[str, object]) -> list[str]:
    embed = response["data"]["embeds"][0]  # type: ignore[index]
    return [line for line in embed["description"].splitlines() if line.startswith("**#")]


def test_weekly_board_ranks_this_weeks_net_not_balances(world: World) -> None:
    """A big balance earned last week loses to this week's earners; clawbacks count, imports do not."""
    eve = int(EVE["id"])
    _post(world, [(1, 5000, Kind.import_, MONDAY - timedelta(days=30)),   # history
                  (1, 900, Kind.rule, MONDAY - timedelta(seconds=1)),     # last week
                  (1, 40, Kind.rule, MONDAY),                            # this week's first second
                  (2, 300, Kind.rule, NOW - timedelta(hours=2)),
                  (2, -100, Kind.clawback, NOW - timedelta(hours=1)),    # net 200
                  (eve, 120, Kind.admin_award, NOW),
                  (3, 5000, Kind.import_, NOW)])                         # an import today: not activity
    response = world.ok(p.command("leaderboard", PLAIN, [p.opt("period", "week")]))
    embed = response["data"]["embeds"][0]
    assert embed["title"].endswith("· This week")
    assert f"<t:{int(MONDAY.timestamp())}:f>" in embed["description"]
    level = LevelCurve(PolynomialCurve()).level_for       # the default xp curve; levels are current ones
    assert _lines(response) == [f"**#1** <@2> — 200 · lvl {level(200)}", f"**#2** <@{eve}> — 120 · lvl {level(120)}",
                                f"**#3** <@1> — 40 · lvl {level(5940)}"]
    assert "Your position: #2 (120)" in embed["footer"]["text"]
    all_time = world.ok(p.command("leaderboard", PLAIN))
    assert _lines(all_time)[0].startswith("**#1** <@1> — 5,940")


def test_period_buttons_keep_the_period(world: World) -> None:
    """Next carries the period in its custom_id, and the page it opens is still this month's."""
    _post(world, [(uid, 10 * uid, Kind.rule, NOW - timedelta(days=uid % 9)) for uid in range(1, 16)]
          + [(99, 10_000, Kind.rule, datetime(2025, 2, 27, tzinfo=UTC))])   # February: not this month
    response = world.ok(p.command("leaderboard", PLAIN, [p.opt("period", "month")]))
    following = response["data"]["components"][0]["components"][1]
    assert following["custom_id"] == f"lb:{EVE['id']}:xp::1:month"
    page2 = world.ok(p.component(following["custom_id"], PLAIN))
    assert page2["type"] == 7
    assert [line.split(" — ")[0] for line in _lines(page2)] == [f"**#{r}** <@{16 - r}>" for r in range(11, 16)]
    assert "This month" in page2["data"]["embeds"][0]["title"]


def test_season_period_without_a_season_and_a_bad_period_are_ephemeral(world: World) -> None:
    """period:season with no active season, or an unknown period, explains itself only to the caller."""
    response = world.ok(p.command("leaderboard", PLAIN, [p.opt("period", "season")]))
    assert response["data"]["flags"] == 64 and "no active season" in response["data"]["content"].lower()
    response = world.ok(p.command("leaderboard", PLAIN, [p.opt("period", "decade")]))
    assert response["data"]["flags"] == 64 and "period" in response["data"]["content"]


def test_definition_offers_every_period_and_rank_mirrors_profile() -> None:
    """The period option lists the four periods as choices; /rank has /profile's options."""
    from synapse.interactions.definitions import commands

    by_name = {c["name"]: c for c in commands()}
    period = next(o for o in by_name["leaderboard"]["options"] if o["name"] == "period")
    assert period["type"] == 3 and [c["value"] for c in period["choices"]] == list(PERIODS)
    assert all(len(c["name"]) <= 100 for c in period["choices"]) and len(period["description"]) <= 100
    assert by_name["rank"]["options"] == by_name["profile"]["options"]
