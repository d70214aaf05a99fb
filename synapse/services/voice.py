"""Voice sessions in the database: load what the state machine needs, apply it, write what it changed.

The decisions (sessions opened, moved, closed, reconciled by a snapshot; ticks in blocks of up to 5
minutes; the company a tick counts; late joins; stale sessions) are made by the pure machine in
``synapse/processing/voice.py``, which documents them. This module is its shell, per batch:

    plan (what the events need) → one read (``_LOAD``) → apply → the changes

The pipeline (``services.ingest``) calls :func:`decide` / :func:`decide_ticks` and hands the changes
to the one writer (``db.changeset.write``, with the rules' changes). :func:`apply` and
:func:`tick_sessions` decide and write here (two statements, ``_UPDATE`` and ``_INSERT``), for
callers outside the pipeline. Callers hold the member locks (``lock_member_pairs``) for every member
whose sessions they touch (:func:`members_touched` names them for a snapshot).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, text

from synapse.eventlake.events import Event
from synapse.processing import voice as machine
from synapse.processing.voice import (
    MAX_SESSION,
    TICK_MINUTES,
    VOICE_TYPES,
    Changes,
    Company,
    Known,
    Needs,
    Session,
    SnapshotKey,
    present_members,
    session_start_key,
)

__all__ = ["MAX_SESSION", "TICK_MINUTES", "VOICE_TYPES", "Changes", "Session", "apply", "decide", "decide_ticks",
           "load", "members_touched", "open_sessions", "session_start_key", "tick_sessions", "write"]

# Everything a batch needs, in one statement. ``o``: the open sessions of the members (and of the
# snapshot guilds), locked. ``ch``: the channels whose company ticks may count, each from the earliest
# time asked; an open session's channel from ``COALESCE(last_tick_at, started_at) - 5 min``, which is
# at most where its next block starts (``machine.unpaid_from``: the watermark less under one block).
# Then the sessions of those channels, the members' later voice events, the split snapshots' parts
# (which share the snapshot's time: the guild-time index finds them).
_LOAD: Final = text(f"""
WITH o1 AS (
    SELECT * FROM voice_sessions
     WHERE ended_at IS NULL AND (guild_id, user_id) IN (
           SELECT * FROM unnest(CAST(:mg AS bigint[]), CAST(:mu AS bigint[])))
       FOR UPDATE),
o2 AS (
    SELECT * FROM voice_sessions WHERE ended_at IS NULL AND guild_id = ANY(CAST(:gs AS bigint[])) FOR UPDATE),
o AS (SELECT * FROM o1 UNION SELECT * FROM o2),
ch AS (
    SELECT g, c, min(t) AS since FROM (
        SELECT * FROM unnest(CAST(:cg AS bigint[]), CAST(:cc AS bigint[]), CAST(:ct AS timestamptz[]))
        UNION ALL
        SELECT guild_id, channel_id, COALESCE(last_tick_at, started_at) - interval '{TICK_MINUTES} minutes' FROM o
    ) AS y(g, c, t) GROUP BY g, c)
SELECT 'open'::text AS kind, guild_id, id, user_id, channel_id, started_at, ended_at, last_tick_at, self_mute,
       self_deaf, NULL::timestamptz AS at, NULL::text AS key, NULL::jsonb AS payload
  FROM o
UNION ALL
SELECT 'channel', g, NULL, NULL, c, NULL, NULL, NULL, NULL, NULL, since, NULL, NULL FROM ch
UNION ALL
SELECT 'company', s.guild_id, s.id, s.user_id, s.channel_id, s.started_at, s.ended_at, s.last_tick_at,
       s.self_mute, s.self_deaf, NULL, NULL, NULL
  FROM ch CROSS JOIN LATERAL (
       SELECT * FROM voice_sessions
        WHERE guild_id = ch.g AND channel_id = ch.c AND (ended_at IS NULL OR ended_at > ch.since) OFFSET 0) s
UNION ALL
SELECT 'later', x.g, NULL, x.u, NULL, NULL, NULL, NULL, NULL, NULL, e.occurred_at, NULL, NULL
  FROM unnest(CAST(:lg AS bigint[]), CAST(:lu AS bigint[]), CAST(:lt AS timestamptz[])) AS x(g, u, t)
 CROSS JOIN LATERAL (
       SELECT occurred_at FROM event_lake
        WHERE guild_id = x.g AND user_id = x.u
          AND event_type IN ('voice_join', 'voice_leave', 'voice_move') AND occurred_at > x.t
          AND source_event_id <> ALL(CAST(:batch AS text[])) OFFSET 0) e
UNION ALL
SELECT 'part', x.g, x.n, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, e.source_event_id, e.payload
  FROM unnest(CAST(:pg AS bigint[]), CAST(:ps AS text[]), CAST(:pp AS text[]), CAST(:pt AS timestamptz[]))
       WITH ORDINALITY AS x(g, s, p, t, n)
 CROSS JOIN LATERAL (
       SELECT source_event_id, payload FROM event_lake
        WHERE guild_id = x.g AND occurred_at = x.t AND event_type = 'voice_state_snapshot' AND source_system = x.s
          AND starts_with(source_event_id, x.p) OFFSET 0) e
""")

# Stored sessions closed or ticked, in one statement (a tick leaves ended_at and end_reason alone).
_UPDATE: Final = text("""
UPDATE voice_sessions AS s
   SET ended_at = COALESCE(x.ended_at, s.ended_at), end_reason = COALESCE(x.reason, s.end_reason),
       last_tick_at = x.last_tick_at
  FROM unnest(CAST(:g AS bigint[]), CAST(:id AS bigint[]), CAST(:t AS timestamptz[]), CAST(:r AS text[]),
              CAST(:lt AS timestamptz[])) AS x(g, id, ended_at, reason, last_tick_at)
 WHERE s.guild_id = x.g AND s.id = x.id""")

# Sessions opened, as they end up (closed already, some), in the order opened.
_INSERT: Final = text("""
INSERT INTO voice_sessions (guild_id, user_id, channel_id, started_at, ended_at, self_mute, self_deaf,
                            start_event_id, end_reason, last_tick_at)
SELECT g, u, c, t, e, m, d, ev, r, lt
  FROM unnest(CAST(:g AS bigint[]), CAST(:u AS bigint[]), CAST(:c AS bigint[]), CAST(:t AS timestamptz[]),
              CAST(:e AS timestamptz[]), CAST(:m AS boolean[]), CAST(:d AS boolean[]), CAST(:ev AS bigint[]),
              CAST(:r AS text[]), CAST(:lt AS timestamptz[])) WITH ORDINALITY AS x(g, u, c, t, e, m, d, ev, r, lt, n)
 ORDER BY n""")


def _session(row: Any) -> Session:
    return Session(row.guild_id, row.id, row.user_id, row.channel_id, row.started_at, row.ended_at,
                   row.last_tick_at, row.self_mute, row.self_deaf)


def members_touched(conn: Connection, events: Sequence[Event]) -> set[tuple[int, int]]:
    """(guild, member) pairs whose sessions these events may change: lock them before :func:`apply`."""
    touched: set[tuple[int, int]] = set()
    for e in events:
        if e.event_type not in VOICE_TYPES:
            continue
        if e.user_id is not None:
            touched.add((e.guild_id, e.user_id))
        if e.event_type == "voice_state_snapshot":
            touched.update((e.guild_id, uid) for uid in present_members([e.payload]))
            rows = conn.execute(text("SELECT user_id FROM voice_sessions WHERE guild_id = :g AND ended_at IS NULL"),
                                {"g": e.guild_id})
            touched.update((e.guild_id, r.user_id) for r in rows)
    return touched


def load(conn: Connection, needs: Needs) -> Known:
    """Answer ``needs`` in one round trip (the open sessions it returns are locked until commit)."""
    if not needs:
        return Known(needs)
    members = sorted(needs.members)
    channels = sorted(needs.channels.items())
    later = sorted(needs.later.items())
    snapshots = sorted(needs.snapshots)
    rows = conn.execute(_LOAD, {
        "mg": [g for g, _ in members], "mu": [u for _, u in members], "gs": sorted(needs.guilds),
        "cg": [g for (g, _), _ in channels], "cc": [c for (_, c), _ in channels], "ct": [t for _, t in channels],
        "lg": [g for (g, _), _ in later], "lu": [u for (_, u), _ in later], "lt": [t for _, t in later],
        "batch": sorted(needs.batch),
        "pg": [k[0] for k in snapshots], "ps": [k[1] for k in snapshots], "pp": [k[2] for k in snapshots],
        "pt": [k[3] for k in snapshots]}).all()
    open_: dict[tuple[int, int], Session] = {}
    since: dict[tuple[int, int], datetime] = {}
    company: dict[tuple[int, int], dict[int, Session]] = {}
    times: dict[tuple[int, int], list[datetime]] = {}
    parts: dict[SnapshotKey, dict[str, Any]] = {}
    for r in rows:
        if r.kind == "open":
            open_[(r.guild_id, r.user_id)] = _session(r)
        elif r.kind == "channel":
            since[(r.guild_id, r.channel_id)] = r.at
        elif r.kind == "company":
            company.setdefault((r.guild_id, r.channel_id), {})[r.id] = _session(r)
        elif r.kind == "later":
            times.setdefault((r.guild_id, r.user_id), []).append(r.at)
        else:   # a part: ``id`` numbers the snapshot (from 1), ``key`` is the part's source_event_id
            parts.setdefault(snapshots[r.id - 1], {})[r.key] = r.payload
    return Known(
        needs, open=open_,
        company={c: Company(t, tuple(company.get(c, {}).values())) for c, t in since.items()},
        later={m: tuple(sorted(ts)) for m, ts in times.items()}, parts=parts)


def write(conn: Connection, changes: Changes) -> None:
    """Write the changes: stored sessions closed or ticked (one UPDATE), then sessions opened (one INSERT)."""
    updates: list[tuple[int, int, datetime | None, str | None, datetime]] = [
        (c.guild_id, c.id, c.ended_at, c.end_reason, c.ended_at) for c in changes.closed]
    updates += [(t.guild_id, t.id, None, None, t.last_tick_at) for t in changes.ticked]
    if updates:
        conn.execute(_UPDATE, {"g": [u[0] for u in updates], "id": [u[1] for u in updates],
                               "t": [u[2] for u in updates], "r": [u[3] for u in updates],
                               "lt": [u[4] for u in updates]})
    if changes.opened:
        new = [(o.session, o.start_event_id, o.end_reason) for o in changes.opened]
        conn.execute(_INSERT, {
            "g": [s.guild_id for s, _, _ in new], "u": [s.user_id for s, _, _ in new],
            "c": [s.channel_id for s, _, _ in new], "t": [s.started_at for s, _, _ in new],
            "e": [s.ended_at for s, _, _ in new], "m": [s.self_mute for s, _, _ in new],
            "d": [s.self_deaf for s, _, _ in new], "ev": [ev for _, ev, _ in new], "r": [r for _, _, r in new],
            "lt": [s.last_tick_at for s, _, _ in new]})


def decide(conn: Connection, events: Iterable[Event], *, now: datetime) -> tuple[Changes, list[Event]]:
    """What new voice events (in time order) do to the sessions (one read, nothing written): the
    changes to write and the derived events to append."""
    voice = machine.voice_events(events)
    if not voice:
        return Changes(), []
    changes, derived = machine.apply(load(conn, machine.plan(voice)), voice, now=now)
    return changes, list(derived)


def apply(conn: Connection, events: Iterable[Event], *, now: datetime) -> list[Event]:
    """:func:`decide` and write the changes here; return the derived events to append."""
    changes, derived = decide(conn, events, now=now)
    write(conn, changes)
    return derived


def open_sessions(conn: Connection, *, guild_id: int | None = None) -> list[Session]:
    rows = conn.execute(text("""
        SELECT * FROM voice_sessions WHERE ended_at IS NULL AND (CAST(:g AS bigint) IS NULL OR guild_id = :g)
         ORDER BY guild_id, user_id"""), {"g": guild_id})
    return [_session(r) for r in rows]


def decide_ticks(conn: Connection, sessions: Sequence[Session], *, now: datetime) -> tuple[Changes, list[Event]]:
    """The ticks open sessions have earned up to ``now`` and the stale ones to close (nothing written)."""
    if not sessions:
        return Changes(), []
    changes, derived = machine.tick(load(conn, machine.plan_ticks(sessions)), sessions, now=now)
    return changes, list(derived)


def tick_sessions(conn: Connection, sessions: Sequence[Session], *, now: datetime) -> list[Event]:
    """:func:`decide_ticks` and write the changes here (callers lock the members first)."""
    changes, derived = decide_ticks(conn, sessions, now=now)
    write(conn, changes)
    return derived
