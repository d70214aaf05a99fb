"""Incremental analytics rollups: fold new lake events into ``activity_hourly`` and ``member_daily``.

Each guild has a watermark (``rollup_state``, name ``activity``): the last event id folded in.
A run folds the events after it, in one transaction with the watermark move, so a crash
folds nothing twice and a run may stop anywhere.

The subtle part is *which* ids are safe to fold. Ids come from one sequence and are
taken at insert time, but transactions commit in any order: id 100 may become visible
after id 101, and a watermark past 101 would skip it forever. So a run first reads
the sequence's last value ``S``, then takes a fresh transaction id ``N`` and waits
(seconds at most) until every transaction older than ``N`` has ended; after that every
id ≤ ``S`` is either visible or never will be (rolled back, or a duplicate insert that
consumed an id). Writers take their transaction id *before* inserting lake rows
(``pg_current_xact_id()``, in the round trip of ``ledger_store.lock_member_pairs``), so a writer
holding an id ≤ ``S`` is always older than ``N``. If the wait runs out (a long
transaction somewhere), the run folds nothing and the next one tries again.

Rollup columns:

- ``activity_hourly(guild, hour UTC, event_type, channel (0 = none))``: ``events``; and
  ``voice_seconds`` (60 per minute a ``voice_tick`` pays: its ``minutes``, a block of up to 5) so voice
  time lands in the hour it was spent.
- ``member_daily(guild, UTC day, member)``: ``messages`` (message_create), ``reactions``
  (reaction_add), ``voice_seconds`` (ticks), ``events`` (everything the member did, derived
  per-minute ticks and the engine's own level_up/milestone events excluded).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text

from synapse.db.engine import transaction

log = logging.getLogger(__name__)

NAME = "activity"
MAX_EVENTS_PER_RUN = 200_000

_FOLD = text("""
WITH ev AS (
    SELECT guild_id, id, event_type, COALESCE(channel_id, 0) AS channel_id, user_id, occurred_at,
           CASE WHEN event_type = 'voice_tick'   -- a tick pays a block of ``minutes`` (1 when absent)
                THEN 60 * COALESCE(CASE WHEN payload ->> 'minutes' ~ '^[0-9]{1,4}$'
                                        THEN (payload ->> 'minutes')::int END, 1)
                ELSE 0 END AS voice_seconds
      FROM event_lake WHERE guild_id = :g AND id > :lo AND id <= :hi
), hourly AS (
    INSERT INTO activity_hourly AS a (guild_id, hour, event_type, channel_id, events, voice_seconds)
    SELECT guild_id, date_trunc('hour', occurred_at), event_type, channel_id, count(*), sum(voice_seconds)
      FROM ev GROUP BY 1, 2, 3, 4
    ON CONFLICT (guild_id, hour, event_type, channel_id) DO UPDATE
       SET events = a.events + EXCLUDED.events, voice_seconds = a.voice_seconds + EXCLUDED.voice_seconds
    RETURNING 1
), daily AS (
    INSERT INTO member_daily AS d (guild_id, day, user_id, messages, reactions, voice_seconds, events)
    SELECT guild_id, date_trunc('day', occurred_at AT TIME ZONE 'UTC'), user_id,
           count(*) FILTER (WHERE event_type = 'message_create'),
           count(*) FILTER (WHERE event_type = 'reaction_add'),
           sum(voice_seconds),
           count(*) FILTER (WHERE event_type NOT IN ('voice_tick', 'level_up', 'milestone_earned'))
      FROM ev WHERE user_id IS NOT NULL GROUP BY 1, 2, 3
    ON CONFLICT (guild_id, day, user_id) DO UPDATE
       SET messages = d.messages + EXCLUDED.messages, reactions = d.reactions + EXCLUDED.reactions,
           voice_seconds = d.voice_seconds + EXCLUDED.voice_seconds, events = d.events + EXCLUDED.events
    RETURNING 1
)
SELECT (SELECT count(*) FROM ev) AS events, (SELECT count(*) FROM hourly) AS hourly,
       (SELECT count(*) FROM daily) AS daily
""")


@dataclass
class RollupReport:
    guilds: int = 0
    events: int = 0
    hourly_rows: int = 0
    daily_rows: int = 0
    waited_seconds: float = 0.0
    skipped: bool = False
    watermarks: dict[int, int] = field(default_factory=dict)


def safe_high(engine: Engine, *, wait_seconds: float = 20.0, sleep: float = 0.05) -> tuple[int | None, float]:
    """The highest lake id below which every id is final (visible or never), or None if writers lingered.

    Read the sequence's last value ``S``, then take a fresh transaction id ``N`` (larger than the id of
    every transaction that had one by then, so of every writer holding a lake id ≤ ``S``), and wait
    until the oldest transaction still running is newer than ``N``.
    """
    began = time.monotonic()
    with engine.connect() as conn:
        high = conn.execute(text(
            "SELECT pg_sequence_last_value(pg_get_serial_sequence('event_lake', 'id')::regclass)")).scalar()
        marker = int(str(conn.execute(text("SELECT pg_current_xact_id()")).scalar_one()))
        conn.commit()
        while True:
            oldest = int(str(conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())")).scalar_one()))
            conn.rollback()
            if oldest > marker:
                break
            if time.monotonic() - began > wait_seconds:
                return None, time.monotonic() - began
            time.sleep(sleep)
    return (int(high) if high is not None else 0), time.monotonic() - began


_MOVE = text("UPDATE rollup_state SET last_event_id = :hi, updated_at = now() WHERE guild_id = :g AND name = :n")


def fold_guild(conn: Connection, guild_id: int, *, high: int, limit: int = MAX_EVENTS_PER_RUN) -> tuple[int, int, int]:
    """Fold one guild's events after its watermark up to ``high``; return (events, hourly rows, daily rows)."""
    conn.execute(text("INSERT INTO rollup_state (guild_id, name, last_event_id) VALUES (:g, :n, 0) "
                      "ON CONFLICT DO NOTHING"), {"g": guild_id, "n": NAME})
    low = conn.execute(text("SELECT last_event_id FROM rollup_state WHERE guild_id = :g AND name = :n FOR UPDATE"),
                       {"g": guild_id, "n": NAME}).scalar_one()
    if low >= high:
        return 0, 0, 0
    capped = conn.execute(text("""
        SELECT max(id) FROM (SELECT id FROM event_lake WHERE guild_id = :g AND id > :lo AND id <= :hi
                              ORDER BY id LIMIT :n) s"""), {"g": guild_id, "lo": low, "hi": high, "n": limit}
                          ).scalar_one_or_none()
    if capped is None:  # nothing new for this guild: still move the watermark past the others' ids
        conn.execute(_MOVE, {"hi": high, "g": guild_id, "n": NAME})
        return 0, 0, 0
    top = high if _count_after(conn, guild_id, capped, high) == 0 else capped
    row = conn.execute(_FOLD, {"g": guild_id, "lo": low, "hi": top}).one()
    conn.execute(_MOVE, {"hi": top, "g": guild_id, "n": NAME})
    return int(row.events), int(row.hourly), int(row.daily)


def _count_after(conn: Connection, guild_id: int, after: int, high: int) -> int:
    return int(conn.execute(text("SELECT count(*) FROM (SELECT 1 FROM event_lake WHERE guild_id = :g AND id > :a "
                                 "AND id <= :h LIMIT 1) s"), {"g": guild_id, "a": after, "h": high}).scalar_one())


def roll_up(engine: Engine, *, guild_id: int | None = None, wait_seconds: float = 20.0) -> RollupReport:
    """One incremental run over every guild (or one)."""
    report = RollupReport()
    high, waited = safe_high(engine, wait_seconds=wait_seconds)
    report.waited_seconds = waited
    if high is None:
        report.skipped = True
        log.warning("rollup skipped: lake writers still running", extra={"waited_seconds": round(waited, 2)})
        return report
    with engine.connect() as conn:
        guilds = [r.guild_id for r in conn.execute(text(
            "SELECT guild_id FROM guilds WHERE CAST(:g AS bigint) IS NULL OR guild_id = :g ORDER BY guild_id"),
            {"g": guild_id})]
    for g in guilds:
        with transaction(engine) as conn:
            events, hourly, daily = fold_guild(conn, g, high=high)
            report.watermarks[g] = int(conn.execute(text(
                "SELECT last_event_id FROM rollup_state WHERE guild_id = :g AND name = :n"),
                {"g": g, "n": NAME}).scalar_one())
        report.guilds += 1
        report.events += events
        report.hourly_rows += hourly
        report.daily_rows += daily
    log.info("rollups folded", extra={"guilds": report.guilds, "events": report.events,
                                      "hourly_rows": report.hourly_rows, "daily_rows": report.daily_rows})
    return report
