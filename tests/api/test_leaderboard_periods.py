"""Period leaderboards (this week / month / season): the ledger's net per member in the window.

Every board here is checked against sums computed independently from ``transactions``: once by
PostgreSQL's own calendar (``date_trunc`` in the guild's time zone) and once in Python
(``isocalendar`` on each row), never by the code under test.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from synapse.admin import settings as settings_admin
from synapse.admin.audit import SYSTEM
from synapse.db.ledger_store import post
from synapse.ledger.model import Kind, Posting
from synapse.services import seasons
from synapse.services.periods import calendar_window, parse_period
from tests.api.conftest import GUILD, NOW, Api

G = f"/api/guilds/{GUILD}"
TZ = "Pacific/Auckland"    # UTC+13 in March: the week and month turn over on a different UTC day
SEASON_START = datetime(2025, 2, 20, 9, 0, tzinfo=UTC)
EXCLUDED = {"season_reset", "import"}


def _seed(api: Api, *, members: int = 40, seed: int = 7) -> None:
    """Random postings of every kind from mid-January to now, plus rows on the windows' edges."""
    rng = random.Random(seed)
    postings: list[Posting] = []
    n = 0

    def add(uid: int, amount: int, kind: Kind, at: datetime, currency: str = "xp") -> None:
        nonlocal n
        n += 1
        postings.append(Posting(guild_id=GUILD, user_id=uid, currency=currency, amount=amount, kind=kind,
                                idempotency_key=f"t:{n}", occurred_at=at, season_id=1 if kind is Kind.season_reset
                                else None))

    begin = datetime(2025, 1, 15, tzinfo=UTC)
    span = (NOW - begin).total_seconds()
    for uid in range(1, members + 1):
        add(uid, 100_000, Kind.import_, datetime(2025, 1, 1, tzinfo=UTC))   # history: never counts
        for _ in range(rng.randint(0, 14)):
            at = begin + timedelta(seconds=rng.uniform(0, span))
            kind = rng.choice([Kind.rule, Kind.rule, Kind.rule, Kind.admin_award, Kind.clawback, Kind.correction,
                               Kind.season_reset, Kind.import_])
            amount = rng.randint(1, 400) * (-1 if kind in (Kind.clawback, Kind.season_reset) else 1)
            if kind is Kind.correction and rng.random() < 0.5:
                amount = -amount
            add(uid, amount, kind, at)
        add(uid, rng.randint(1, 50), Kind.rule, NOW - timedelta(hours=1), currency="stars")
    week_start, _ = calendar_window("week", NOW, TZ)
    month_start, _ = calendar_window("month", NOW, TZ)
    for edge in (week_start, month_start, SEASON_START):
        add(41, 1000, Kind.rule, edge)                           # on the start: inside
        add(42, 1000, Kind.rule, edge - timedelta(microseconds=1))  # just before: outside
    add(43, 777, Kind.rule, NOW)
    add(44, 777, Kind.admin_award, NOW)                          # a tie: lower user id first
    add(45, 300, Kind.rule, NOW - timedelta(minutes=5))
    add(45, -300, Kind.clawback, NOW - timedelta(minutes=1))     # net 0: not listed
    with api.engine.begin() as conn:
        post(conn, sorted(postings, key=lambda p: p.occurred_at))
        settings_admin.update(conn, GUILD, {"timezone": TZ}, actor=SYSTEM)
        conn.exec_driver_sql(f"UPDATE modules SET enabled = true WHERE guild_id = {GUILD} AND key = 'seasons'")
        seasons.start(conn, GUILD, name="Summer", actor=SYSTEM, at=SEASON_START)


def _ranked(totals: dict[int, int]) -> list[tuple[int, str, int]]:
    """(rank, user id, net) by net descending then user id, members at 0 left out."""
    order = sorted(((uid, net) for uid, net in totals.items() if net != 0), key=lambda x: (-x[1], x[0]))
    return [(i + 1, str(uid), net) for i, (uid, net) in enumerate(order)]


def _expected_sql(api: Api, period: str, currency: str = "xp") -> list[tuple[int, str, int]]:
    """The board by PostgreSQL's calendar: date_trunc of each row and of now, in the guild's zone."""
    if period == "season":
        where = "occurred_at >= :season"
    else:
        unit = {"week": "week", "month": "month"}[period]
        where = (f"date_trunc('{unit}', occurred_at AT TIME ZONE :tz) "
                 f"= date_trunc('{unit}', CAST(:now AS timestamptz) AT TIME ZONE :tz)")
    rows = api.sql(f"""SELECT user_id, SUM(amount) AS net FROM transactions
                        WHERE guild_id = :g AND currency_key = :c AND kind NOT IN ('season_reset', 'import')
                          AND {where} GROUP BY user_id""",
                   g=GUILD, c=currency, tz=TZ, now=NOW, season=SEASON_START)
    return _ranked({int(r.user_id): int(r.net) for r in rows})


def _expected_python(api: Api, period: str, currency: str = "xp") -> list[tuple[int, str, int]]:
    """The board by Python's calendar: ISO (year, week) or (year, month) of each row in the guild's zone."""
    zone = ZoneInfo(TZ)
    here = NOW.astimezone(zone)

    def inside(at: datetime) -> bool:
        local = at.astimezone(zone)
        if period == "week":
            return local.isocalendar()[:2] == here.isocalendar()[:2]
        if period == "month":
            return (local.year, local.month) == (here.year, here.month)
        return at >= SEASON_START

    totals: dict[int, int] = {}
    for r in api.sql("SELECT user_id, amount, kind, occurred_at FROM transactions WHERE guild_id = :g "
                     "AND currency_key = :c", g=GUILD, c=currency):
        if r.kind not in EXCLUDED and inside(r.occurred_at):
            totals[int(r.user_id)] = totals.get(int(r.user_id), 0) + int(r.amount)
    return _ranked(totals)


def _all_pages(api: Api, period: str, *, limit: int, currency: str = "xp") -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"period": period, "limit": limit} | ({"cursor": cursor} if cursor else {})
        r = api.client.get(f"{G}/leaderboard/{currency}", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["period"] == period
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


@pytest.mark.parametrize("period", ["week", "month", "season"])
def test_period_board_matches_independent_sums_over_transactions(api: Api, period: str) -> None:
    """Every page of the week / month / season board equals the net per member summed from transactions."""
    _seed(api)
    expected = _expected_sql(api, period)
    assert expected == _expected_python(api, period)     # the two independent references agree
    assert len(expected) > 14                             # three pages of 7 at least
    items, pages = _all_pages(api, period, limit=7)
    assert [(e["rank"], e["user_id"], e["balance"]) for e in items] == expected
    assert pages == -(-len(expected) // 7)
    board = {uid: net for _, uid, net in expected}
    # 41 earned 1000 on each window's first instant, 42 1000 one microsecond before each.
    inside, before = {"week": (1000, None), "month": (2000, 1000), "season": (3000, 2000)}[period]
    assert board.get("41") == inside and board.get("42") == before
    assert "45" not in board                              # a net of 0 is not listed
    tie = [e["user_id"] for e in items if e["balance"] == 777 and e["user_id"] in ("43", "44")]
    assert tie == ["43", "44"]


def test_windows_are_in_the_guild_time_zone(api: Api) -> None:
    """Week and month start at local midnight (Monday / the 1st) and say so; the season since it began."""
    _seed(api, members=3)
    week = api.client.get(f"{G}/leaderboard/xp", params={"period": "week"}).json()
    month = api.client.get(f"{G}/leaderboard/xp", params={"period": "month"}).json()
    season = api.client.get(f"{G}/leaderboard/xp", params={"period": "season"}).json()
    # NOW is Wed 12 March 15:30 UTC = Thu 13 March 04:30 in Auckland (UTC+13): bounds carry the local offset.
    assert week["since"] == "2025-03-10T00:00:00+13:00" and week["until"] == "2025-03-17T00:00:00+13:00"
    assert month["since"] == "2025-03-01T00:00:00+13:00" and month["until"] == "2025-04-01T00:00:00+13:00"
    assert datetime.fromisoformat(week["since"]) == datetime(2025, 3, 9, 11, tzinfo=UTC)
    assert datetime.fromisoformat(season["since"]) == SEASON_START and season["until"] is None
    assert season["season_id"] == 1 and season["season_status"] == "active"


def test_all_time_board_is_unchanged_and_levels_are_current(api: Api) -> None:
    """period=all (and no period) ranks balances; a period board shows each member's current level."""
    _seed(api, members=5)
    default = api.client.get(f"{G}/leaderboard/xp").json()
    explicit = api.client.get(f"{G}/leaderboard/xp", params={"period": "all"}).json()
    assert default["items"] == explicit["items"] and default["period"] == "all"
    balances = {r.user_id: int(r.balance) for r in api.sql(
        "SELECT user_id, balance FROM wallets WHERE guild_id = :g AND currency_key = 'xp'", g=GUILD)}
    assert [e["balance"] for e in default["items"]] == sorted((b for b in balances.values() if b), reverse=True)
    week = api.client.get(f"{G}/leaderboard/xp", params={"period": "week"}).json()
    levels = {e["user_id"]: e["level"] for e in default["items"]}
    for e in week["items"]:
        assert e["level"] == levels[e["user_id"]]


def test_bad_period_and_mixing_with_season_are_422_with_the_error_shape(api: Api) -> None:
    """period=fortnight → 422 naming the query field; a period with a season → 422; cursors do not cross."""
    _seed(api, members=30)
    r = api.client.get(f"{G}/leaderboard/xp", params={"period": "fortnight"})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "validation_failed" and error["details"][0]["path"] == "query.period"
    r = api.client.get(f"{G}/leaderboard/xp", params={"period": "week", "season": 1})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "period"
    weekly = api.client.get(f"{G}/leaderboard/xp", params={"period": "week", "limit": 2}).json()
    assert weekly["next_cursor"]
    r = api.client.get(f"{G}/leaderboard/xp", params={"period": "month", "cursor": weekly["next_cursor"]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["path"] == "cursor"


def test_season_period_needs_an_active_season_and_the_module(api: Api) -> None:
    """No active season → 404 saying so; seasons module off → 404."""
    api.sql("UPDATE modules SET enabled = true WHERE guild_id = :g AND key = 'seasons'", g=GUILD)
    r = api.client.get(f"{G}/leaderboard/xp", params={"period": "season"})
    assert r.status_code == 404 and "no active season" in r.json()["error"]["message"]
    api.sql("UPDATE modules SET enabled = false WHERE guild_id = :g AND key = 'seasons'", g=GUILD)
    assert api.client.get(f"{G}/leaderboard/xp", params={"period": "season"}).status_code == 404


def test_period_board_uses_the_period_index(api: Api) -> None:
    """The window's sum is an index scan of ix_transactions_period, not a scan of the table."""
    _seed(api, members=10)
    api.sql("ANALYZE transactions")
    with api.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")   # a tiny table: ask what the plan can use
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"""
            EXPLAIN SELECT user_id, SUM(amount) FROM transactions
             WHERE guild_id = {GUILD} AND currency_key = 'xp' AND occurred_at >= '2025-03-09T11:00:00Z'
               AND occurred_at < '2025-03-16T11:00:00Z' AND kind NOT IN ('season_reset', 'import')
             GROUP BY user_id"""))
    assert "ix_transactions_period" in plan


def test_parse_period_names_the_field() -> None:
    """None is all-time; an unknown value is a ValidationFailed listing the choices at the given path."""
    from synapse.errors import ValidationFailed

    assert parse_period(None) == "all" and parse_period("week") == "week"
    with pytest.raises(ValidationFailed) as caught:
        parse_period("yearly", path="options.period")
    assert caught.value.errors[0].path == "options.period" and "week" in caught.value.errors[0].message


def test_calendar_windows_across_daylight_saving_and_year_end() -> None:
    """ISO weeks start Monday local midnight; a DST change inside a week keeps local midnights."""
    # Europe/Paris springs forward on Sunday 30 March 2025: that week is 167 hours long.
    start, end = calendar_window("week", datetime(2025, 3, 28, 12, tzinfo=UTC), "Europe/Paris")
    assert start == datetime(2025, 3, 23, 23, tzinfo=UTC) and end == datetime(2025, 3, 30, 22, tzinfo=UTC)
    start, end = calendar_window("month", datetime(2024, 12, 31, 23, 30, tzinfo=UTC), "UTC")
    assert start == datetime(2024, 12, 1, tzinfo=UTC) and end == datetime(2025, 1, 1, tzinfo=UTC)
    # 1 Jan 2025 is a Wednesday: its ISO week began on Monday 30 December 2024.
    start, _ = calendar_window("week", datetime(2025, 1, 1, 8, tzinfo=UTC), "UTC")
    assert start == datetime(2024, 12, 30, tzinfo=UTC)
