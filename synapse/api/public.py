"""Public read endpoints of a guild (no login needed unless an admin made a page private)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from synapse.admin.modules import enabled_modules
from synapse.api import pagination, schemas
from synapse.api.deps import GuildId, Now, ReadConn, module, parse_snowflake, visible
from synapse.services import directory, queries

router = APIRouter(prefix="/api/guilds/{guild_id}", tags=["public"])

ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": schemas.ErrorResponse, "description": "Private page"},
    404: {"model": schemas.ErrorResponse, "description": "Unknown guild or entity, or module off"},
    422: {"model": schemas.ErrorResponse, "description": "Bad input"},
}

Leaderboards = [Depends(module("economy")), Depends(visible("public_leaderboard"))]
Analytics = [Depends(module("analytics")), Depends(visible("public_activity"))]

Cursor = Annotated[str | None, Query(max_length=pagination.MAX_CURSOR_CHARS,
                                     description="Opaque cursor from the previous page's next_cursor")]
Limit = Annotated[int, Query(ge=1, le=100, description="Page size")]


@router.get("", response_model=schemas.GuildInfo, responses=ERRORS, summary="Guild: name, time zone, "
            "modules, visible currencies, which pages are public")
def guild(guild_id: GuildId, conn: ReadConn) -> schemas.GuildInfo:
    return schemas.GuildInfo.model_validate(queries.guild_info(conn, guild_id))


@router.get("/modules", response_model=schemas.Modules, responses=ERRORS, summary="Enabled modules")
def modules(guild_id: GuildId, conn: ReadConn) -> schemas.Modules:
    queries.guild_row(conn, guild_id)
    return schemas.Modules(modules=enabled_modules(conn, guild_id))


@router.get("/overview", response_model=schemas.Overview, responses=ERRORS, dependencies=Analytics,
            summary="Members tracked, events and active members over 24 h / 7 d / 30 d, top channels, "
                    "currency totals")
def overview(guild_id: GuildId, conn: ReadConn, now: Now) -> schemas.Overview:
    return schemas.Overview.model_validate(
        directory.name_top_channels(conn, guild_id, queries.overview(conn, guild_id, now=now)))


@router.get("/seasons", response_model=list[schemas.SeasonInfo], responses=ERRORS,
            dependencies=[Depends(module("seasons"))], summary="Seasons, newest first (past ones stay browsable)")
def seasons(guild_id: GuildId, conn: ReadConn) -> list[schemas.SeasonInfo]:
    queries.guild_row(conn, guild_id)
    return [schemas.SeasonInfo.model_validate(s) for s in queries.list_seasons(conn, guild_id)]


@router.get("/leaderboard/{currency}", response_model=schemas.Leaderboard, responses=ERRORS,
            dependencies=Leaderboards, summary="Leaderboard of a currency (live, or a season's snapshot)")
def leaderboard(guild_id: GuildId, currency: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,31}$")],
                conn: ReadConn, now: Now, cursor: Cursor = None, limit: Limit = 50,
                season: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Season id; omit for "
                                                    "live balances")] = None,
                period: Annotated[Literal["all", "week", "month", "season"], Query(
                    description="all: balances (default); week (ISO, from Monday 00:00), month, or season (since "
                                "the active season began): the net earned in that window, in the guild's time "
                                "zone; season_reset and import transactions do not count")] = "all",
                ) -> schemas.Leaderboard:
    kind = "lb" if period == "all" else f"lb-{period}"   # a cursor pages only the board it came from
    after = pagination.decode(cursor, kind, fields={"b": int, "u": int, "r": int})
    if season is not None or period == "season":
        from synapse.admin.modules import require_enabled

        require_enabled(conn, guild_id, "seasons")
    page = queries.leaderboard(conn, guild_id, currency, season_id=season, after=after, limit=limit,
                               period=period, now=now)
    nxt = page.pop("next_after")
    return schemas.Leaderboard.model_validate(
        {**page, "next_cursor": pagination.encode(kind, **nxt) if nxt else None})


@router.get("/members/{user_id}", response_model=schemas.MemberProfile, responses=ERRORS,
            dependencies=Leaderboards, summary="A member's public profile: balances, levels, ranks, milestones")
def member(guild_id: GuildId, user_id: str, conn: ReadConn, now: Now) -> schemas.MemberProfile:
    uid = parse_snowflake(user_id, "user_id")
    return schemas.MemberProfile.model_validate(queries.member_profile(conn, guild_id, uid, now=now))


def _range(start: datetime | None, end: datetime | None, now: datetime, default: timedelta
           ) -> tuple[datetime, datetime]:
    end = end or now
    return start or end - default, end


@router.get("/activity", response_model=schemas.TimeSeries, responses=ERRORS, dependencies=Analytics,
            summary="Activity time series: messages, reactions, voice minutes, joins, leaves, active members")
def activity(guild_id: GuildId, conn: ReadConn, now: Now,
             bucket: Literal["hour", "day"] = "day",
             start: Annotated[datetime | None, Query(description="Inclusive (ISO 8601 with zone); "
                                                                  "default end - 30 d (hour: - 48 h)")] = None,
             end: Annotated[datetime | None, Query(description="Exclusive; default now")] = None,
             ) -> schemas.TimeSeries:
    s, e = _range(start, end, now, timedelta(hours=48) if bucket == "hour" else timedelta(days=30))
    return schemas.TimeSeries.model_validate(queries.time_series(conn, guild_id, start=s, end=e, bucket=bucket))


@router.get("/heatmap", response_model=schemas.Heatmap, responses=ERRORS, dependencies=Analytics,
            summary="Messages by weekday × hour in the guild's time zone")
def heatmap(guild_id: GuildId, conn: ReadConn, now: Now,
            start: Annotated[datetime | None, Query(description="Default end - 28 d")] = None,
            end: Annotated[datetime | None, Query(description="Default now")] = None) -> schemas.Heatmap:
    s, e = _range(start, end, now, timedelta(days=28))
    return schemas.Heatmap.model_validate(queries.heatmap(conn, guild_id, start=s, end=e))


@router.get("/retention", response_model=schemas.Retention, responses=ERRORS, dependencies=Analytics,
            summary="Join-cohort retention: weekly cohorts × weeks with activity after joining")
def retention(guild_id: GuildId, conn: ReadConn, now: Now,
              weeks: Annotated[int, Query(ge=1, le=52)] = 12) -> schemas.Retention:
    return schemas.Retention.model_validate(queries.retention(conn, guild_id, now=now, weeks=weeks))


@router.get("/milestones", response_model=list[schemas.GalleryMilestone], responses=ERRORS,
            dependencies=[Depends(module("milestones"))], summary="Milestones gallery with earn counts")
def milestones(guild_id: GuildId, conn: ReadConn) -> list[schemas.GalleryMilestone]:
    return [schemas.GalleryMilestone.model_validate(m) for m in queries.milestones_gallery(conn, guild_id)]


@router.get("/announcements", response_model=schemas.Page[schemas.Announcement], responses=ERRORS,
            dependencies=[Depends(module("announcements"))],
            summary="Recent level-ups and milestones (activity ticker), newest first")
def announcements(guild_id: GuildId, conn: ReadConn, cursor: Cursor = None,
                  limit: Limit = 20) -> schemas.Page[schemas.Announcement]:
    after = pagination.decode(cursor, "ann", fields={"id": int})
    page = queries.announcements(conn, guild_id, before_id=after["id"] if after else None, limit=limit)
    nxt = page["next_before"]
    return schemas.Page[schemas.Announcement].model_validate(
        {"items": page["items"], "next_cursor": pagination.encode("ann", id=nxt) if nxt else None})
