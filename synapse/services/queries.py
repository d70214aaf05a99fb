"""Read models for the dashboard's public pages, from rollups and wallets (never full lake scans).

Sources:

- ``activity_guild_hourly`` / ``activity_channel_daily`` / ``activity_guild_daily``: guild-level
  sums of the pipeline's ``activity_hourly`` and ``member_daily``, kept in step by triggers
  (migration 0005) → overview counts and top channels, time series, heatmap, active members per day;
- ``member_cache.last_seen_at`` (latest event of each member) → active members over 24 h / 7 d / 30 d;
- ``member_daily`` (per member and UTC day) → retention;
- ``synapse.services.profile`` → leaderboards (keyset pages) and member profiles: the read models
  the slash commands show, encoded here for the API;
- ``event_lake`` derived events (``level_up``, ``milestone_earned``) through ``ix_event_lake_guild_time``,
  newest first, for the announcements ticker.

Members with ``member_cache.public_opt_out`` are never shown by name or id: they keep
their rank, as "anonymous". Functions return plain dicts shaped like ``synapse.api.schemas``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, text

from synapse.admin import modules as modules_admin
from synapse.admin import settings as settings_admin
from synapse.db.ledger_store import load_currencies
from synapse.errors import ErrorDetail, NotFound, ValidationFailed
from synapse.services import profile

T = TypeVar("T")
MAX_BUCKETS = 5000
# Sums over every wallet (currency totals) and the cohort join are O(members): computed at most this
# often per process, like the rollups they sit beside (which lag the lake by one timer period).
TOTALS_TTL = timedelta(seconds=60)
RETENTION_TTL = timedelta(minutes=10)
_cache: dict[tuple[Any, ...], tuple[datetime, Any]] = {}
_cache_lock = threading.Lock()
MESSAGE = "message_create"
REACTION = "reaction_add"
JOIN = "member_join"
LEAVE = "member_leave"


def cached(conn: Connection, key: tuple[Any, ...], now: datetime, ttl: timedelta, compute: Callable[[], T]) -> T:
    """``compute()``, reused for ``ttl`` (by the injected clock) per database and key."""
    full = (conn.engine.url.render_as_string(hide_password=True), *key)
    with _cache_lock:
        hit = _cache.get(full)
    if hit is not None and now - ttl < hit[0] <= now:
        return hit[1]  # type: ignore[no-any-return]
    value = compute()
    with _cache_lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[full] = (now, value)
    return value


def clear_caches() -> None:
    with _cache_lock:
        _cache.clear()


def snowflake(value: int | None) -> str | None:
    return None if value is None else str(value)


def guild_row(conn: Connection, guild_id: int) -> Any:
    row = conn.execute(text("SELECT guild_id, name FROM guilds WHERE guild_id = :g"), {"g": guild_id}).first()
    if row is None:
        raise NotFound(f"no guild {guild_id} in Synapse", hint="run `synapse guild init` for it first")
    return row


def guild_info(conn: Connection, guild_id: int) -> dict[str, Any]:
    row = guild_row(conn, guild_id)
    s = settings_admin.load(conn, guild_id)
    currencies = [
        {"key": c.key, "name": c.name, "symbol": c.symbol, "levelled": c.levelled, "seasonal": c.seasonal}
        for c in load_currencies(conn, guild_id).values() if c.visible]
    return {"guild_id": str(guild_id), "name": row.name, "timezone": s.timezone,
            "modules": modules_admin.enabled_modules(conn, guild_id), "currencies": currencies,
            "public_leaderboard": s.public_leaderboard, "public_activity": s.public_activity}


# ---------------------------------------------------------------- overview

def overview(conn: Connection, guild_id: int, *, now: datetime) -> dict[str, Any]:
    row = guild_row(conn, guild_id)
    hour = now.replace(minute=0, second=0, microsecond=0)
    counts = conn.execute(text("""
        SELECT COALESCE(SUM(events) FILTER (WHERE hour >= :h1), 0) AS e1,
               COALESCE(SUM(events) FILTER (WHERE hour >= :h7), 0) AS e7,
               COALESCE(SUM(events), 0) AS e30,
               COALESCE(SUM(events) FILTER (WHERE hour >= :h1 AND event_type = :msg), 0) AS m1,
               COALESCE(SUM(events) FILTER (WHERE hour >= :h7 AND event_type = :msg), 0) AS m7,
               COALESCE(SUM(events) FILTER (WHERE event_type = :msg), 0) AS m30
          FROM activity_guild_hourly WHERE guild_id = :g AND hour >= :h30"""),
        {"g": guild_id, "msg": MESSAGE, "h1": hour - timedelta(hours=23),
         "h7": hour - timedelta(days=7) + timedelta(hours=1), "h30": hour - timedelta(days=30) + timedelta(hours=1)},
    ).one()
    # O(members) even as one index-only scan of ix_member_cache_seen: reused for TOTALS_TTL, like the totals.
    a1, a7, a30, members = cached(conn, ("members", guild_id), now, TOTALS_TTL, lambda: tuple(
        int(x) for x in conn.execute(text("""
        SELECT COUNT(*) FILTER (WHERE last_seen_at >= :t1 AND last_seen_at <= :now) AS a1,
               COUNT(*) FILTER (WHERE last_seen_at >= :t7 AND last_seen_at <= :now) AS a7,
               COUNT(*) FILTER (WHERE last_seen_at >= :t30 AND last_seen_at <= :now) AS a30,
               COUNT(*) FILTER (WHERE left_at IS NULL) AS members
          FROM member_cache WHERE guild_id = :g AND NOT is_bot"""),
        {"g": guild_id, "now": now, "t1": now - timedelta(days=1), "t7": now - timedelta(days=7),
         "t30": now - timedelta(days=30)}).one()))
    channels = conn.execute(text("""
        SELECT channel_id, SUM(events) AS events FROM activity_channel_daily
         WHERE guild_id = :g AND day > :d30
         GROUP BY channel_id ORDER BY events DESC, channel_id LIMIT 5"""),
        {"g": guild_id, "d30": now.astimezone(UTC).date() - timedelta(days=30)}).all()
    currencies = load_currencies(conn, guild_id)
    totals = cached(conn, ("currency_totals", guild_id), now, TOTALS_TTL, lambda: {
        r.currency_key: (int(r.holders), int(r.total)) for r in conn.execute(text("""
            SELECT currency_key, COUNT(*) FILTER (WHERE balance <> 0) AS holders,
                   COALESCE(SUM(balance), 0)::bigint AS total
              FROM wallets WHERE guild_id = :g GROUP BY currency_key"""), {"g": guild_id})})
    return {
        "guild_id": str(guild_id), "name": row.name, "members_tracked": int(members),
        "windows": {
            "24h": {"events": int(counts.e1), "messages": int(counts.m1), "active_members": a1},
            "7d": {"events": int(counts.e7), "messages": int(counts.m7), "active_members": a7},
            "30d": {"events": int(counts.e30), "messages": int(counts.m30), "active_members": a30},
        },
        "top_channels": [{"channel_id": str(c.channel_id), "events": int(c.events)} for c in channels],
        "currencies": [
            {"key": c.key, "name": c.name, "symbol": c.symbol,
             "holders": totals.get(c.key, (0, 0))[0], "total": totals.get(c.key, (0, 0))[1]}
            for c in currencies.values() if c.visible],
        "as_of": now,
    }


# ---------------------------------------------------------------- leaderboard

def season(conn: Connection, guild_id: int, season_id: int) -> Any:
    row = conn.execute(text("SELECT * FROM seasons WHERE guild_id = :g AND season_id = :s"),
                       {"g": guild_id, "s": season_id}).first()
    if row is None:
        raise NotFound(f"no season {season_id} in this server")
    return row


def active_season(conn: Connection, guild_id: int) -> Any:
    return conn.execute(text("SELECT * FROM seasons WHERE guild_id = :g AND status = 'active'"),
                        {"g": guild_id}).first()


def list_seasons(conn: Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("SELECT * FROM seasons WHERE guild_id = :g ORDER BY season_id DESC"),
                        {"g": guild_id})
    return [{"season_id": r.season_id, "name": r.name, "status": r.status, "started_at": r.started_at,
             "ended_at": r.ended_at, "scheduled_end_at": r.scheduled_end_at} for r in rows]


def leaderboard(conn: Connection, guild_id: int, currency: str, *, season_id: int | None = None,
                after: dict[str, Any] | None = None, limit: int = 50, period: str = "all",
                now: datetime | None = None) -> dict[str, Any]:
    """One page of a leaderboard; ``after`` is the decoded cursor ``{b, u, r}`` of the last row shown.

    ``season_id`` of a closed season reads its snapshot; of the active season (or none) the live wallets.
    The read model is ``profile.leaderboard``, the one ``/leaderboard`` shows.
    ``period`` ``week`` / ``month`` / ``season`` ranks the net earned in that window as of ``now``
    (``synapse.services.periods``); ``balance`` is then that net, ``level`` the member's current level.
    """
    guild_row(conn, guild_id)
    keyset = profile.After(int(after["b"]), int(after["u"]), int(after["r"])) if after else None
    page = profile.leaderboard(conn, guild_id, currency, season_id=season_id, after=keyset, page_size=limit,
                               period=period, now=now)
    items = [{"rank": e.rank, "user_id": None if e.hidden else str(e.user_id),
              "display_name": None if e.hidden else e.display_name, "avatar": None if e.hidden else e.avatar,
              "balance": e.balance, "level": e.level} for e in page.entries]
    last = page.entries[-1] if page.has_next and page.entries else None
    return {"currency": currency, "season_id": page.season_id if page.period == "season" else season_id,
            "season_status": page.season_status, "items": items,
            "next_after": None if last is None else {"b": last.balance, "u": last.user_id, "r": last.rank},
            "period": page.period, "since": page.since, "until": page.until}


# ---------------------------------------------------------------- member profile

def member_profile(conn: Connection, guild_id: int, user_id: int, *, now: datetime,
                   include_opted_out: bool = False) -> dict[str, Any]:
    """The dashboard's member page: ``profile.member_profile`` (what ``/profile`` shows), every earned
    milestone, the last 30 days' activity; exact ranks at any depth. Opted-out members are not public."""
    guild_row(conn, guild_id)
    try:
        p = profile.member_profile(conn, guild_id, user_id, recent=0, milestones=None,
                                   activity_since=now.astimezone(UTC).date() - timedelta(days=30),
                                   ranks=profile.EXACT_RANKS)
    except NotFound:
        raise NotFound(f"no public profile for member {user_id}") from None
    if p.hidden and not include_opted_out:
        raise NotFound(f"no public profile for member {user_id}")
    balances = []
    for s in p.standings:
        entry: dict[str, Any] = {"currency": s.currency, "name": s.name, "symbol": s.symbol, "balance": s.balance,
                                 "rank": s.rank}
        if s.level is not None:
            entry |= {"level": s.level, "into_level": s.into_level, "for_next": s.for_next}
        balances.append(entry)
    return {
        "user_id": str(user_id), "display_name": p.display_name, "avatar": p.avatar, "joined_at": p.joined_at,
        "balances": balances,
        "milestones": [{"milestone_id": m.milestone_id, "key": m.key, "name": m.name, "emoji": m.emoji,
                        "earned_at": m.earned_at} for m in p.recent_milestones],
        "messages_30d": p.activity.messages if p.activity else 0,
        "voice_minutes_30d": p.activity.voice_minutes if p.activity else 0,
    }


# ---------------------------------------------------------------- activity

def check_range(start: datetime, end: datetime, *, bucket: timedelta) -> None:
    problems = []
    if start.tzinfo is None or end.tzinfo is None:
        problems.append(ErrorDetail("start", "times need a time zone (e.g. 2025-01-01T00:00:00Z)"))
    elif end <= start:
        problems.append(ErrorDetail("end", "must be after start"))
    elif (end - start) / bucket > MAX_BUCKETS:
        problems.append(ErrorDetail("end", f"range too long: at most {MAX_BUCKETS} buckets"))
    if problems:
        raise ValidationFailed("invalid range", problems)


def time_series(conn: Connection, guild_id: int, *, start: datetime, end: datetime,
                bucket: str) -> dict[str, Any]:
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    check_range(start, end, bucket=step)
    guild_row(conn, guild_id)
    start = _floor(start.astimezone(UTC), bucket)
    end = end.astimezone(UTC)
    rows = conn.execute(text("""
        SELECT date_trunc(:bucket, hour, 'UTC') AS bucket_start,
               COALESCE(SUM(events) FILTER (WHERE event_type = :msg), 0) AS messages,
               COALESCE(SUM(events) FILTER (WHERE event_type = :rx), 0) AS reactions,
               COALESCE(SUM(voice_seconds), 0) AS voice,
               COALESCE(SUM(events) FILTER (WHERE event_type = :join), 0) AS joins,
               COALESCE(SUM(events) FILTER (WHERE event_type = :leave), 0) AS leaves
          FROM activity_guild_hourly
         WHERE guild_id = :g AND hour >= :s AND hour < :e
           AND event_type IN (:msg, :rx, :join, :leave, 'voice_session_end', 'voice_tick')
         GROUP BY 1"""),
        {"bucket": bucket, "g": guild_id, "s": start, "e": end, "msg": MESSAGE, "rx": REACTION,
         "join": JOIN, "leave": LEAVE}).all()
    by_t = {r.bucket_start: r for r in rows}  # (Row.t is a Row method)
    active: dict[date, int] = {}
    if bucket == "day":
        active = {r.day: int(r.active_members) for r in conn.execute(text("""
            SELECT day, active_members FROM activity_guild_daily
             WHERE guild_id = :g AND day >= :s AND day <= :e"""),
            {"g": guild_id, "s": start.date(), "e": end.date()})}
    points = []
    t = start
    while t < end:
        r = by_t.get(t)
        points.append({
            "t": t, "messages": int(r.messages) if r else 0, "reactions": int(r.reactions) if r else 0,
            "voice_minutes": int(r.voice) // 60 if r else 0, "joins": int(r.joins) if r else 0,
            "leaves": int(r.leaves) if r else 0,
            "active_members": active.get(t.date(), 0) if bucket == "day" else None})
        t += step
    return {"bucket": bucket, "start": start, "end": end, "points": points}


def _floor(t: datetime, bucket: str) -> datetime:
    t = t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0) if bucket == "day" else t


def heatmap(conn: Connection, guild_id: int, *, start: datetime, end: datetime) -> dict[str, Any]:
    check_range(start, end, bucket=timedelta(days=1))
    guild_row(conn, guild_id)
    tz = settings_admin.load(conn, guild_id).timezone
    rows = conn.execute(text("""
        SELECT EXTRACT(ISODOW FROM hour AT TIME ZONE :tz)::int - 1 AS wd,
               EXTRACT(HOUR FROM hour AT TIME ZONE :tz)::int AS h, SUM(events) AS n
          FROM activity_guild_hourly
         WHERE guild_id = :g AND hour >= :s AND hour < :e AND event_type = :msg
         GROUP BY 1, 2"""), {"tz": tz, "g": guild_id, "s": start, "e": end, "msg": MESSAGE}).all()
    grid = {(r.wd, r.h): int(r.n) for r in rows}
    cells = [{"weekday": wd, "hour": h, "messages": grid.get((wd, h), 0)} for wd in range(7) for h in range(24)]
    return {"timezone": tz, "start": start, "end": end, "cells": cells}


def retention(conn: Connection, guild_id: int, *, now: datetime, weeks: int) -> dict[str, Any]:
    """Weekly join cohorts (``member_cache.joined_at``) × weeks after joining with any activity."""
    guild_row(conn, guild_id)
    return cached(conn, ("retention", guild_id, weeks, now.astimezone(UTC).date()), now, RETENTION_TTL,
                  lambda: _retention(conn, guild_id, now=now, weeks=weeks))


def _retention(conn: Connection, guild_id: int, *, now: datetime, weeks: int) -> dict[str, Any]:
    today = now.astimezone(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    since = this_monday - timedelta(weeks=weeks - 1)
    sizes = conn.execute(text("""
        SELECT date_trunc('week', joined_at AT TIME ZONE 'UTC')::date AS week, COUNT(*) AS n
          FROM member_cache WHERE guild_id = :g AND NOT is_bot AND joined_at >= :since
         GROUP BY 1"""), {"g": guild_id, "since": datetime.combine(since, datetime.min.time(), UTC)}).all()
    kept = conn.execute(text("""
        WITH cohort AS (
            SELECT user_id, date_trunc('week', joined_at AT TIME ZONE 'UTC')::date AS week
              FROM member_cache WHERE guild_id = :g AND NOT is_bot AND joined_at >= :since)
        SELECT c.week, (date_trunc('week', d.day)::date - c.week) / 7 AS k, COUNT(DISTINCT c.user_id) AS n
          FROM cohort c JOIN member_daily d ON d.guild_id = :g AND d.user_id = c.user_id AND d.day >= c.week
         GROUP BY 1, 2"""), {"g": guild_id, "since": datetime.combine(since, datetime.min.time(), UTC)}).all()
    retained: dict[date, dict[int, int]] = {}
    for r in kept:
        retained.setdefault(r.week, {})[int(r.k)] = int(r.n)
    size_by_week = {r.week: int(r.n) for r in sizes}
    cohorts = []
    for i in range(weeks):
        week = since + timedelta(weeks=i)
        span = (this_monday - week).days // 7 + 1
        cohorts.append({"week": week, "size": size_by_week.get(week, 0),
                        "retained": [retained.get(week, {}).get(k, 0) for k in range(span)]})
    return {"weeks": weeks, "cohorts": cohorts}


# ---------------------------------------------------------------- milestones, ticker

def milestones_gallery(conn: Connection, guild_id: int) -> list[dict[str, Any]]:
    guild_row(conn, guild_id)
    rows = conn.execute(text("""
        SELECT m.milestone_id, m.key, m.name, m.description, m.emoji,
               COUNT(um.user_id) AS earned, MIN(um.earned_at) AS first_at, MAX(um.earned_at) AS last_at
          FROM milestones m
          LEFT JOIN user_milestones um ON um.guild_id = m.guild_id AND um.milestone_id = m.milestone_id
         WHERE m.guild_id = :g AND m.enabled AND NOT m.hidden
         GROUP BY m.guild_id, m.milestone_id ORDER BY earned DESC, m.milestone_id"""), {"g": guild_id})
    return [{"milestone_id": r.milestone_id, "key": r.key, "name": r.name, "description": r.description,
             "emoji": r.emoji, "earned_count": int(r.earned), "first_earned_at": r.first_at,
             "last_earned_at": r.last_at} for r in rows]


def announcements(conn: Connection, guild_id: int, *, before_id: int | None, limit: int) -> dict[str, Any]:
    """Recent level-ups and milestones, newest first, from the derived events in the lake."""
    guild_row(conn, guild_id)
    rows = conn.execute(text("""
        SELECT e.id, e.event_type, e.user_id, e.occurred_at, e.payload, m.display_name,
               COALESCE(m.public_opt_out, false) AS opt_out
          FROM event_lake e
          LEFT JOIN member_cache m ON m.guild_id = e.guild_id AND m.user_id = e.user_id
         WHERE e.guild_id = :g AND e.event_type IN ('level_up', 'milestone_earned')
           AND (CAST(:before AS bigint) IS NULL OR e.id < :before)
         ORDER BY e.id DESC LIMIT :n"""), {"g": guild_id, "before": before_id, "n": limit + 1}).all()
    milestone_names = {r.milestone_id: r.name for r in conn.execute(
        text("SELECT milestone_id, name FROM milestones WHERE guild_id = :g"), {"g": guild_id})}
    items = []
    for r in rows[:limit]:
        who = "Someone" if r.opt_out else (r.display_name or "A member")
        p = r.payload or {}
        if r.event_type == "level_up":
            kind = "level_up"
            level = p.get("new_level", p.get("level", "?"))
            msg = f"{who} reached level {level} in {p.get('currency', 'xp')}"
        else:
            kind = "milestone"
            name = p.get("name") or milestone_names.get(_int(p.get("milestone_id"))) or p.get("key", "a milestone")
            msg = f"{who} earned {name}"
        items.append({"id": int(r.id), "kind": kind, "user_id": None if r.opt_out else str(r.user_id),
                      "display_name": None if r.opt_out else r.display_name, "text": msg,
                      "created_at": r.occurred_at})
    more = len(rows) > limit
    return {"items": items, "next_before": items[-1]["id"] if more and items else None}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
