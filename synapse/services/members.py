"""The member cache, refreshed from what events say about the member who acted.

The cache is never the source of truth (Discord is): it holds display data and
the few facts rules need (roles, join date, account age, bot flag). Updates are
monotonic in event time, so a late or redelivered message never overwrites
newer data with older data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from synapse.eventlake.events import Event

_UPSERT = text("""
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
    for e in events:
        if e.user_id is None:
            continue
        key = (e.guild_id, e.user_id)
        row = latest.get(key)
        if row is None:
            row = latest[key] = {"display_name": None, "avatar": None, "is_bot": False, "roles": None,
                                 "account_created_at": None, "joined_at": None, "left_at": None,
                                 "first_at": e.occurred_at, "seen_at": e.occurred_at}
        actor = e.actor
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
    conn.execute(_UPSERT, columns)
    return len(latest)
