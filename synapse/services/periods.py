"""Leaderboard periods: which slice of the ledger a board ranks.

- ``all``: all-time, the live wallets (what the boards always showed);
- ``week``: the current ISO calendar week, from Monday 00:00 to the next Monday 00:00;
- ``month``: the current calendar month, from the 1st 00:00 to the next 1st 00:00;
- ``season``: from the active season's ``started_at`` on (no end: the season is open).

Weeks and months are in the guild's time zone (setting ``timezone``, IANA, default UTC), so a
board in Europe/Paris turns over at midnight in Paris. A period board ranks members by the
**net** of their transactions in the window (``occurred_at`` in ``[start, end)``): rule credits,
admin awards, clawbacks, corrections and transfers all count, so a clawed-back message does not
stay on this week's board; ``season_reset`` (a roll is not activity) and ``import`` (history
brought from another bot) are left out. Members whose net is 0 are not listed.

The windows are computed here in pure code from an injected "now"; the SQL lives in
``synapse.db.period_totals``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from synapse.errors import ErrorDetail, NotFound, ValidationFailed

Period = Literal["all", "week", "month", "season"]
PERIODS: tuple[Period, ...] = get_args(Period)
LABELS: dict[str, str] = {"all": "All time", "week": "This week", "month": "This month",
                             "season": "This season"}


@dataclass(frozen=True)
class Window:
    """The slice of the ledger a period board sums: ``[start, end)`` (``end`` None: open)."""

    period: Period
    start: datetime | None      # None only for "all"
    end: datetime | None
    timezone: str = "UTC"
    season_id: int | None = None
    season_name: str | None = None


def parse_period(value: str | None, *, path: str = "period") -> Period:
    """``value`` as a period (None → ``all``); anything else is a ValidationFailed naming ``path``."""
    if value is None or value == "":
        return "all"
    if value not in PERIODS:
        raise ValidationFailed("invalid period", [ErrorDetail(path, f"{value!r} is not one of "
                                                              + ", ".join(PERIODS))])
    return value


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def calendar_window(period: Literal["week", "month"], now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """The calendar week (ISO: Monday first) or month containing ``now``, in ``timezone``, as aware datetimes."""
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    if period == "week":
        monday = today - timedelta(days=today.weekday())
        return _midnight(monday, zone), _midnight(monday + timedelta(days=7), zone)
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return _midnight(first, zone), _midnight(following, zone)


def window(conn: Connection, guild_id: int, period: Period, *, now: datetime) -> Window:
    """The window of ``period`` for this guild now. ``season`` without an active season is NotFound."""
    from synapse.admin import settings as settings_admin

    if period == "all":
        return Window("all", None, None)
    if period == "season":
        row = conn.execute(text("""
            SELECT season_id, name, started_at FROM seasons WHERE guild_id = :g AND status = 'active'"""),
            {"g": guild_id}).first()
        if row is None:
            raise NotFound("no active season in this server", hint="an admin starts one on the Seasons page")
        return Window("season", row.started_at, None, season_id=int(row.season_id), season_name=str(row.name))
    tz = settings_admin.load(conn, guild_id).timezone
    start, end = calendar_window(period, now, tz)
    return Window(period, start, end, timezone=tz)
