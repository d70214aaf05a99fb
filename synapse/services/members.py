"""The member cache, refreshed from what events say about the member who acted.

The cache is never the source of truth (Discord is): it holds display data and
the few facts rules need (roles, join date, account age, bot flag). Updates are
monotonic in event time, so a late or redelivered message never overwrites
newer data with older data.

The roles the events report are also kept as a history (``member_role_history``,
migration 0018): a row when a member's reported roles differ from those in force at
the event's time, so a rule can be given the roles a member held when an event
happened (backtests, voice ticks derived later). A redelivered message adds no row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.eventlake.events import Event

# The role samples of one refresh (in time order per member, each differing from the one before it): the
# first of each member is kept if it differs from the roles in force at its time (the history as it was
# before this statement), the others always (each differs from the one before it). Same statement as the
# cache's upsert: one round trip.
_UPSERT = text("""
WITH role_changes AS (
  INSERT INTO member_role_history (guild_id, user_id, since, roles)
  SELECT x.guild_id, x.user_id, x.since, r.roles
    FROM unnest(CAST(:h_guild AS bigint[]), CAST(:h_user AS bigint[]), CAST(:h_since AS timestamptz[]),
                CAST(:h_roles AS text[]), CAST(:h_first AS boolean[])) AS x(guild_id, user_id, since, roles_text, first)
         CROSS JOIN LATERAL (SELECT CAST(x.roles_text AS bigint[]) AS roles) r
   WHERE NOT x.first OR r.roles IS DISTINCT FROM (
         SELECT h.roles FROM member_role_history h
          WHERE h.guild_id = x.guild_id AND h.user_id = x.user_id AND h.since <= x.since
          ORDER BY h.since DESC LIMIT 1)
  ON CONFLICT (guild_id, user_id, since) DO NOTHING)
INSERT INTO member_cache AS m (guild_id, user_id, display_name, avatar, is_bot, roles,
                               account_created_at, joined_at, left_at, first_seen_at, last_seen_at)
SELECT guild_id, user_id, display_name, avatar, is_bot, COALESCE(roles, '{}'), account_created_at,
       joined_at, left_at, first_at, seen_at
  FROM unnest(CAST(:guild_id AS bigint[]), CAST(:user_id AS bigint[]), CAST(:display_name AS text[]),
              CAST(:avatar AS text[]), CAST(:is_bot AS boolean[]), CAST(:roles AS text[]),
              CAST(:account_created_at AS timestamptz[]), CAST(:joined_at AS timestamptz[]),
              CAST(:left_at AS timestamptz[]), CAST(:first_at AS timestamptz[]), CAST(:seen_at AS timestamptz[]))
       AS u(guild_id, user_id, display_name, avatar, is_bot, roles_text, account_created_at, joined_at,
            left_at, first_at, seen_at)
       CROSS JOIN LATERAL (SELECT CAST(u.roles_text AS bigint[]) AS roles) r
ON CONFLICT (guild_id, user_id) DO UPDATE SET
    display_name = CASE WHEN EXCLUDED.last_seen_at >= m.last_seen_at AND EXCLUDED.display_name IS NOT NULL
                        THEN EXCLUDED.display_name ELSE m.display_name END,
    avatar = CASE WHEN EXCLUDED.last_seen_at >= m.last_seen_at AND EXCLUDED.display_name IS NOT NULL
                  THEN EXCLUDED.avatar ELSE m.avatar END,
    is_bot = m.is_bot OR EXCLUDED.is_bot,
    roles = CASE WHEN EXCLUDED.last_seen_at >= m.last_seen_at AND EXCLUDED.display_name IS NOT NULL
                 THEN EXCLUDED.roles ELSE m.roles END,
    account_created_at = COALESCE(EXCLUDED.account_created_at, m.account_created_at),
    joined_at = GREATEST(EXCLUDED.joined_at, m.joined_at),
    left_at = CASE WHEN EXCLUDED.left_at IS NOT NULL THEN GREATEST(EXCLUDED.left_at, m.left_at)
                   WHEN EXCLUDED.joined_at IS NOT NULL AND EXCLUDED.joined_at > COALESCE(m.left_at, '-infinity')
                   THEN NULL ELSE m.left_at END,
    first_seen_at = LEAST(EXCLUDED.first_seen_at, m.first_seen_at),
    last_seen_at = GREATEST(EXCLUDED.last_seen_at, m.last_seen_at)
""")


def _iso(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def refresh(conn: Connection, events: Sequence[Event]) -> int:
    """Fold what these events say about their members into ``member_cache``; return members touched."""
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    samples: dict[tuple[int, int], dict[datetime, tuple[int, ...]]] = {}   # reported roles by time
    for e in events:
        if e.user_id is None:
            continue
        key = (e.guild_id, e.user_id)
        actor = e.actor
        if actor is not None:   # (two events at one instant: the later one in the envelope wins)
            by_time = samples.get(key)
            if by_time is None:
                by_time = samples[key] = {}
            by_time[e.occurred_at] = actor.roles
        row = latest.get(key)
        if row is None:
            row = latest[key] = {"display_name": None, "avatar": None, "is_bot": False, "roles": None,
                                 "account_created_at": None, "joined_at": None, "left_at": None,
                                 "first_at": e.occurred_at, "seen_at": e.occurred_at}
        if actor is not None and (e.occurred_at >= row["seen_at"] or row["display_name"] is None):
            row["display_name"] = actor.name or ""
            row["avatar"] = actor.avatar
            row["roles"] = "{" + ",".join(str(r) for r in actor.roles) + "}"
            row["is_bot"] = row["is_bot"] or actor.bot
        row["seen_at"] = max(row["seen_at"], e.occurred_at)
        row["first_at"] = min(row["first_at"], e.occurred_at)
        if e.event_type == "member_join":
            row["joined_at"] = max(filter(None, (row["joined_at"], e.occurred_at)))
            row["account_created_at"] = _iso(e.payload.get("account_created_at")) or row["account_created_at"]
            row["is_bot"] = row["is_bot"] or bool(e.payload.get("is_bot"))
        elif e.event_type == "member_leave":
            row["left_at"] = max(filter(None, (row["left_at"], e.occurred_at)))
    if not latest:
        return 0
    columns: dict[str, list[Any]] = {k: [] for k in (
        "guild_id", "user_id", "display_name", "avatar", "is_bot", "roles", "account_created_at",
        "joined_at", "left_at", "first_at", "seen_at")}
    for (guild_id, user_id), row in sorted(latest.items()):
        columns["guild_id"].append(guild_id)
        columns["user_id"].append(user_id)
        for name in ("display_name", "avatar", "is_bot", "roles", "account_created_at", "joined_at",
                     "left_at", "first_at", "seen_at"):
            columns[name].append(row[name])
    conn.execute(_UPSERT, {**columns, **_role_changes(samples)})
    return len(latest)


def _role_changes(samples: dict[tuple[int, int], dict[datetime, tuple[int, ...]]]) -> dict[str, list[Any]]:
    """The ``h_*`` parameters of ``_UPSERT``: each member's samples (roles as reported) in time order, as sorted
    ids, a repeat of the one before dropped; ``h_first`` marks the first of each member (kept only if it
    differs from the history)."""
    rows: list[tuple[int, int, datetime, str, bool]] = []
    for (guild_id, user_id), by_time in sorted(samples.items()):
        before: tuple[int, ...] | None = None
        reported: tuple[int, ...] | None = None
        for at, raw in sorted(by_time.items()):
            if raw == reported:
                continue
            reported, roles = raw, tuple(sorted(set(raw)))
            if roles != before:
                rows.append((guild_id, user_id, at, "{" + ",".join(map(str, roles)) + "}", before is None))
                before = roles
    return {"h_guild": [r[0] for r in rows], "h_user": [r[1] for r in rows], "h_since": [r[2] for r in rows],
            "h_roles": [r[3] for r in rows], "h_first": [r[4] for r in rows]}
