"""Voice sessions: open and close them from voice events, credit them in ticks, reconcile stale ones.

A session is one member's stay in one voice channel. ``voice_join`` opens one,
``voice_leave`` closes it, ``voice_move`` closes one and opens the next;
``voice_state_snapshot`` (sent by the relay when it starts) closes the sessions
of members no longer in voice and opens sessions for members the relay found
in voice without one. At most one session per member is open (a partial unique
index says so).

Credit is paid through derived ``voice_tick`` events, one per block of
``TICK_MINUTES`` (5) minutes (payload ``minutes``), whose keys are built from
the session's content (member, start time, block number), not from its row id
or from when the timer ran. The timer pays the complete blocks of open
sessions; closing a session pays the blocks left, the last partial one
included. The lake drops a block already written, so a session earns the same
whether the timer ran every minute, once, or never (a leave processed after the
timer already paid a block past it keeps that block: at most one block of lag).

Closing a session also emits ``voice_session_end`` (``duration_seconds``) for
rules that pay per session. Callers hold the member locks (``lock_members``)
for every member whose sessions they touch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, text

from synapse.eventlake.events import SYNAPSE, Event

log = logging.getLogger(__name__)

VOICE_TYPES: Final = frozenset({"voice_join", "voice_leave", "voice_move", "voice_state_snapshot"})
# A session longer than this is assumed stale (a lost leave): it is closed and paid up to this length.
MAX_SESSION: Final = timedelta(hours=12)
MINUTE: Final = timedelta(minutes=1)
# Minutes paid per tick: one derived event (and one rules pass) per 5 minutes of voice, not per minute.
TICK_MINUTES: Final = 5


@dataclass(frozen=True, slots=True)
class Session:
    guild_id: int
    id: int
    user_id: int
    channel_id: int
    started_at: datetime
    ended_at: datetime | None
    last_tick_at: datetime | None
    self_mute: bool
    self_deaf: bool


def _session(row: Any) -> Session:
    return Session(row.guild_id, row.id, row.user_id, row.channel_id, row.started_at, row.ended_at,
                   row.last_tick_at, row.self_mute, row.self_deaf)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def session_start_key(session: Session) -> str:
    """The part of derived keys that names a session by content (stable across replays and workers)."""
    return f"{session.user_id}:{session.started_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"


def members_touched(conn: Connection, events: Sequence[Event]) -> set[tuple[int, int]]:
    """(guild, member) pairs whose sessions these events may change: lock them before :func:`apply`."""
    touched: set[tuple[int, int]] = set()
    for e in events:
        if e.event_type not in VOICE_TYPES:
            continue
        if e.user_id is not None:
            touched.add((e.guild_id, e.user_id))
        if e.event_type == "voice_state_snapshot":
            for m in e.payload.get("members") or ():
                uid = _int(m.get("user_id")) if isinstance(m, dict) else None
                if uid is not None:
                    touched.add((e.guild_id, uid))
            rows = conn.execute(text("SELECT user_id FROM voice_sessions WHERE guild_id = :g AND ended_at IS NULL"),
                                {"g": e.guild_id})
            touched.update((e.guild_id, r.user_id) for r in rows)
    return touched


class VoiceBook:
    """Session changes within one transaction; collects the derived events they cause.

    Changes are kept in memory and written by :meth:`flush` in two statements (the sessions closed or
    ticked, then the sessions opened); a session the book opens has a provisional negative id until
    then. Every read of ``voice_sessions`` after the prefetches flushes first, so the database always
    answers with this book's changes in it. The company a tick counts comes from the sessions of the
    channels the batch touches, read once (:meth:`prefetch_channels`) and kept up to date as sessions
    open and close.
    """

    def __init__(self, conn: Connection, *, now: datetime, batch: Sequence[str] = ()) -> None:
        self.conn = conn
        self.now = now
        self.derived: list[Event] = []
        # Events being applied now come in time order: the late-join lookup is for the others only.
        self.batch = list(batch)
        # Open session per member, read once (locked) and kept up to date by open/close.
        self._open: dict[tuple[int, int], Session | None] = {}
        # Per member: (since, times of their voice events in the lake after ``since``, the batch's excluded).
        self._later: dict[tuple[int, int], tuple[datetime, list[datetime]]] = {}
        # Not written yet: sessions opened (provisional id -> latest state, start event, end reason) and
        # stored sessions closed or ticked (id -> guild, ended_at or None, end reason, last_tick_at).
        self._new: dict[int, tuple[Session, int | None, str | None]] = {}
        self._changed: dict[int, tuple[int, datetime | None, str | None, datetime | None]] = {}
        self._provisional = 0
        # Sessions of a channel (guild, channel) -> id -> session, from ``_channels_since`` on.
        self._channels: dict[tuple[int, int], dict[int, Session]] = {}
        self._channels_since: datetime | None = None

    # -- reads -----------------------------------------------------------------------------------

    def prefetch(self, members: set[tuple[int, int]]) -> None:
        """Read (and lock) the open sessions of these members in one round trip."""
        wanted = sorted(m for m in members if m not in self._open)
        if not wanted:
            return
        rows = self.conn.execute(text("""
            SELECT * FROM voice_sessions
             WHERE ended_at IS NULL AND (guild_id, user_id) IN (
                   SELECT * FROM unnest(CAST(:g AS bigint[]), CAST(:u AS bigint[])))
             FOR UPDATE"""), {"g": [g for g, _ in wanted], "u": [u for _, u in wanted]}).all()
        self._open.update(dict.fromkeys(wanted))
        self._open.update({(r.guild_id, r.user_id): _session(r) for r in rows})

    def _open_session(self, guild_id: int, user_id: int) -> Session | None:
        if (guild_id, user_id) not in self._open:
            self.flush()
            row = self.conn.execute(text(
                "SELECT * FROM voice_sessions WHERE guild_id = :g AND user_id = :u AND ended_at IS NULL FOR UPDATE"),
                {"g": guild_id, "u": user_id}).first()
            self._open[(guild_id, user_id)] = _session(row) if row else None
        return self._open[(guild_id, user_id)]

    def prefetch_later(self, events: Sequence[Event]) -> None:
        """Read, in one round trip, the lake's voice events of these events' members after their first one here
        (nothing, unless events arrive out of order): what ``open`` asks about a late join."""
        since: dict[tuple[int, int], datetime] = {}
        for e in events:
            if e.user_id is not None:
                key = (e.guild_id, e.user_id)
                since[key] = min(since.get(key, e.occurred_at), e.occurred_at)
        if not since:
            return
        keys = sorted(since)
        later: dict[tuple[int, int], list[datetime]] = {k: [] for k in keys}
        for row in self.conn.execute(text("""
                SELECT x.g AS guild_id, x.u AS user_id, e.occurred_at
                  FROM unnest(CAST(:g AS bigint[]), CAST(:u AS bigint[]), CAST(:t AS timestamptz[])) AS x(g, u, t)
                  CROSS JOIN LATERAL (
                      SELECT occurred_at FROM event_lake
                       WHERE guild_id = x.g AND user_id = x.u
                         AND event_type IN ('voice_join', 'voice_leave', 'voice_move') AND occurred_at > x.t
                         AND source_event_id <> ALL(CAST(:batch AS text[])) OFFSET 0) e"""),
                {"g": [g for g, _ in keys], "u": [u for _, u in keys], "t": [since[k] for k in keys],
                 "batch": self.batch}):
            later[(row.guild_id, row.user_id)].append(row.occurred_at)
        self._later.update({k: (since[k], later[k]) for k in keys})

    def open_sessions(self) -> list[Session]:
        """The open sessions the book knows of."""
        return [s for s in self._open.values() if s is not None]

    def prefetch_channels(self, channels: set[tuple[int, int]], since: datetime) -> None:
        """Read the sessions of these channels still open at ``since`` or later (what ticks count as company)."""
        if not channels:
            return
        self.flush()
        keys = sorted(channels)
        rows = self.conn.execute(text("""
            SELECT s.* FROM unnest(CAST(:g AS bigint[]), CAST(:c AS bigint[])) AS x(g, c)
              CROSS JOIN LATERAL (SELECT * FROM voice_sessions
                                   WHERE guild_id = x.g AND channel_id = x.c AND (ended_at IS NULL OR ended_at > :s)
                                  OFFSET 0) s"""),
            {"g": [g for g, _ in keys], "c": [c for _, c in keys], "s": since}).all()
        self._channels = {k: {} for k in keys}
        for r in rows:
            self._channels[(r.guild_id, r.channel_id)][r.id] = _session(r)
        self._channels_since = since

    def _next_voice_event_after(self, guild_id: int, user_id: int, at: datetime) -> datetime | None:
        """When the member's next voice event after ``at`` happened (a late join meets its leave)."""
        known = self._later.get((guild_id, user_id))
        if known is not None and at >= known[0]:
            return min((t for t in known[1] if t > at), default=None)
        return self.conn.execute(text("""
            SELECT min(occurred_at) FROM event_lake
             WHERE guild_id = :g AND user_id = :u AND event_type IN ('voice_join', 'voice_leave', 'voice_move')
               AND occurred_at > :t AND source_event_id <> ALL(CAST(:batch AS text[]))"""),
            {"g": guild_id, "u": user_id, "t": at, "batch": self.batch}).scalar_one_or_none()

    # -- writes ----------------------------------------------------------------------------------

    def open(self, *, guild_id: int, user_id: int, channel_id: int, at: datetime, self_mute: bool = False,
             self_deaf: bool = False, event_id: int | None = None) -> None:
        current = self._open_session(guild_id, user_id)
        end = self._next_voice_event_after(guild_id, user_id, at)
        if current is not None:
            if current.started_at <= at:
                self.close(current, at=at, reason="rejoined")
            elif end is None or current.started_at < end:
                end = current.started_at  # a late join: its stay ended when the open session began
        # A stay already known to have ended is closed at once (written closed: the open-session index
        # stays satisfied).
        self._provisional -= 1
        session = Session(guild_id, self._provisional, user_id, channel_id, at, None, None, self_mute, self_deaf)
        self._new[session.id] = (session, event_id, None)
        self._remember(session)
        if end is not None:
            self.close(session, at=end, reason="late_join")
        else:
            self._open[(guild_id, user_id)] = session

    def close(self, session: Session, *, at: datetime, reason: str) -> None:
        end = min(at, session.started_at + MAX_SESSION)
        end = max(end, session.started_at)
        key = (session.guild_id, session.user_id)
        current = self._open.get(key)
        if current is None or current.id == session.id:   # (a member has one open session at most)
            self._open[key] = None
        closed = replace(session, ended_at=end, last_tick_at=end)
        self._record(closed, reason)
        self._remember(closed)
        self.derived.extend(self._ticks(session, until=end, final=True))
        duration = int((end - session.started_at).total_seconds())
        self.derived.append(Event(
            source_system=SYNAPSE, source_event_id=f"voice_session_end:{session_start_key(session)}",
            event_type="voice_session_end", guild_id=session.guild_id, user_id=session.user_id,
            channel_id=session.channel_id, occurred_at=end,
            payload={"duration_seconds": duration, "minutes": duration // 60,
                     "started_at": session.started_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                     "channel_id": str(session.channel_id), "end_reason": reason,
                     "self_mute": session.self_mute, "self_deaf": session.self_deaf}))

    def close_open(self, guild_id: int, user_id: int, *, at: datetime, reason: str) -> None:
        current = self._open_session(guild_id, user_id)
        if current is not None and current.started_at <= at:
            self.close(current, at=at, reason=reason)

    def tick(self, session: Session) -> None:
        """Emit the complete blocks an open session has earned by now and remember how far it got."""
        key = (session.guild_id, session.user_id)
        if key in self._open:
            current = self._open[key]
            if current is None or current.started_at != session.started_at:
                return   # closed since the caller read it: a closed session earns no more ticks
            session = current   # the book's view: its stored id once written, how far it is paid
        if session.started_at + MAX_SESSION <= self.now:
            self.close(session, at=session.started_at + MAX_SESSION, reason="stale")
            return
        blocks = _minutes(session, self.now) // TICK_MINUTES
        if blocks <= _paid_blocks(session):
            return
        # Recorded before ``_ticks``: counting the company may flush, which gives new sessions their real ids.
        ticked = replace(session, last_tick_at=_minute_at(session, blocks * TICK_MINUTES))
        if key in self._open:
            self._open[key] = ticked
        self._record(ticked)
        self.derived.extend(self._ticks(session, until=self.now, final=False))

    def _ticks(self, session: Session, *, until: datetime, final: bool) -> list[Event]:
        """Blocks of ``TICK_MINUTES`` not paid yet; when ``final``, the last partial block too."""
        paid = _paid_blocks(session)
        elapsed = _minutes(session, until)
        blocks = [(b, TICK_MINUTES) for b in range(paid + 1, elapsed // TICK_MINUTES + 1)]
        if final and elapsed % TICK_MINUTES and elapsed // TICK_MINUTES + 1 > paid:
            blocks.append((elapsed // TICK_MINUTES + 1, elapsed % TICK_MINUTES))
        if not blocks:
            return []
        first_at = _minute_at(session, (blocks[0][0] - 1) * TICK_MINUTES)
        company = self._company(session, first_at, _minute_at(session, elapsed))
        prefix = session_start_key(session)
        ticks = []
        for block, minutes in blocks:
            begin = (block - 1) * TICK_MINUTES
            middle = session.started_at + timedelta(minutes=begin + minutes / 2)
            present = 1 + sum(1 for s, e in company if s <= middle and (e is None or e > middle))
            ticks.append(Event(
                source_system=SYNAPSE, source_event_id=f"voice_tick:{prefix}:{block}", event_type="voice_tick",
                guild_id=session.guild_id, user_id=session.user_id, channel_id=session.channel_id,
                occurred_at=_minute_at(session, begin + minutes),
                payload={"minutes": minutes, "block": block, "members_in_channel": present,
                         "self_mute": session.self_mute, "self_deaf": session.self_deaf}))
        return ticks

    def _company(self, session: Session, start: datetime, end: datetime) -> list[tuple[datetime, datetime | None]]:
        """Other members' sessions in the same channel overlapping [start, end]."""
        known = self._channels.get((session.guild_id, session.channel_id))
        if known is not None and self._channels_since is not None and start >= self._channels_since:
            return [(s.started_at, s.ended_at) for s in known.values() if s.user_id != session.user_id
                    and s.started_at <= end and (s.ended_at is None or s.ended_at > start)]
        self.flush()
        rows = self.conn.execute(text("""
            SELECT started_at, ended_at FROM voice_sessions
             WHERE guild_id = :g AND channel_id = :c AND user_id <> :u AND started_at <= :e
               AND (ended_at IS NULL OR ended_at > :s)"""),
            {"g": session.guild_id, "c": session.channel_id, "u": session.user_id, "s": start, "e": end})
        return [(r.started_at, r.ended_at) for r in rows]

    def _record(self, session: Session, reason: str | None = None) -> None:
        """Note a session's new state for :meth:`flush` (closed when ``reason`` is given, else ticked)."""
        if session.id < 0:   # opened by this book: its row is inserted as it ends up
            _, event_id, had = self._new[session.id]
            self._new[session.id] = (session, event_id, reason or had)
        else:
            self._changed[session.id] = (session.guild_id, session.ended_at, reason, session.last_tick_at)

    def _remember(self, session: Session) -> None:
        """Keep the channel's view up to date (when that channel is being followed)."""
        sessions = self._channels.get((session.guild_id, session.channel_id))
        if sessions is not None:
            sessions[session.id] = session

    def flush(self) -> None:
        """Write the changes: stored sessions closed or ticked (one UPDATE), then sessions opened (one INSERT)."""
        if self._changed:
            items = sorted(self._changed.items())
            self.conn.execute(text("""
                UPDATE voice_sessions AS s
                   SET ended_at = COALESCE(x.ended_at, s.ended_at), end_reason = COALESCE(x.reason, s.end_reason),
                       last_tick_at = x.last_tick_at
                  FROM unnest(CAST(:g AS bigint[]), CAST(:id AS bigint[]), CAST(:t AS timestamptz[]),
                              CAST(:r AS text[]), CAST(:lt AS timestamptz[]))
                       AS x(g, id, ended_at, reason, last_tick_at)
                 WHERE s.guild_id = x.g AND s.id = x.id"""),
                {"g": [v[0] for _, v in items], "id": [k for k, _ in items], "t": [v[1] for _, v in items],
                 "r": [v[2] for _, v in items], "lt": [v[3] for _, v in items]})
            self._changed = {}
        if not self._new:
            return
        new = sorted(self._new.items(), reverse=True)   # in the order they were opened (-1, -2, …)
        rows = self.conn.execute(text("""
            INSERT INTO voice_sessions (guild_id, user_id, channel_id, started_at, ended_at, self_mute, self_deaf,
                                        start_event_id, end_reason, last_tick_at)
            SELECT g, u, c, t, e, m, d, ev, r, lt
              FROM unnest(CAST(:g AS bigint[]), CAST(:u AS bigint[]), CAST(:c AS bigint[]),
                          CAST(:t AS timestamptz[]), CAST(:e AS timestamptz[]), CAST(:m AS boolean[]),
                          CAST(:d AS boolean[]), CAST(:ev AS bigint[]), CAST(:r AS text[]), CAST(:lt AS timestamptz[]),
                          CAST(:n AS int[])) AS x(g, u, c, t, e, m, d, ev, r, lt, n)
             ORDER BY n
            RETURNING id, guild_id, user_id, started_at, channel_id"""),
            {"g": [v[0].guild_id for _, v in new], "u": [v[0].user_id for _, v in new],
             "c": [v[0].channel_id for _, v in new], "t": [v[0].started_at for _, v in new],
             "e": [v[0].ended_at for _, v in new], "m": [v[0].self_mute for _, v in new],
             "d": [v[0].self_deaf for _, v in new], "ev": [v[1] for _, v in new], "r": [v[2] for _, v in new],
             "lt": [v[0].last_tick_at for _, v in new], "n": list(range(len(new)))}).all()
        # Provisional ids become the stored ones wherever the book still holds the session (rows come back
        # in the order inserted; checked, as nothing else would notice a mix-up).
        real: dict[int, int] = {}
        for (provisional, (session, _, _)), r in zip(new, rows, strict=True):
            if (r.guild_id, r.user_id, r.started_at, r.channel_id) != (
                    session.guild_id, session.user_id, session.started_at, session.channel_id):
                raise RuntimeError("voice_sessions: the insert returned its rows out of order")
            real[provisional] = int(r.id)
        self._new = {}
        for key, current in self._open.items():
            if current is not None and current.id in real:
                self._open[key] = replace(current, id=real[current.id])
        for sessions in self._channels.values():
            for provisional in [i for i in sessions if i in real]:
                sessions[real[provisional]] = replace(sessions.pop(provisional), id=real[provisional])


def _minutes(session: Session, until: datetime | None) -> int:
    if until is None:
        return 0
    end = min(until, session.started_at + MAX_SESSION)
    return max(0, int((end - session.started_at).total_seconds() // 60))


def _paid_blocks(session: Session) -> int:
    """The tick blocks already paid (up to ``last_tick_at``)."""
    return _minutes(session, session.last_tick_at) // TICK_MINUTES


def _minute_at(session: Session, minute: int) -> datetime:
    return session.started_at + minute * MINUTE


def apply(conn: Connection, events: Iterable[Event], *, now: datetime) -> list[Event]:
    """Apply new voice events (in time order) to the sessions; return the derived events to append."""
    voice = sorted((e for e in events if e.event_type in VOICE_TYPES), key=lambda e: (e.occurred_at, e.id or 0))
    book = VoiceBook(conn, now=now, batch=[e.source_event_id for e in voice])
    book.prefetch({(e.guild_id, e.user_id) for e in voice if e.user_id is not None})
    book.prefetch_later(voice)
    book.prefetch_channels(*_company_channels(book, voice))
    for e in voice:
        p = e.payload
        channel = _channel_of(e)
        if e.event_type == "voice_state_snapshot":
            _snapshot(book, e)
        elif e.user_id is None:
            continue
        elif e.event_type == "voice_join" and channel is not None:
            book.open(guild_id=e.guild_id, user_id=e.user_id, channel_id=channel, at=e.occurred_at,
                      self_mute=bool(p.get("self_mute")), self_deaf=bool(p.get("self_deaf")), event_id=e.id)
        elif e.event_type == "voice_move" and channel is not None:
            book.close_open(e.guild_id, e.user_id, at=e.occurred_at, reason="moved")
            book.open(guild_id=e.guild_id, user_id=e.user_id, channel_id=channel, at=e.occurred_at,
                      self_mute=bool(p.get("self_mute")), self_deaf=bool(p.get("self_deaf")), event_id=e.id)
        elif e.event_type == "voice_leave":
            book.close_open(e.guild_id, e.user_id, at=e.occurred_at, reason="left")
    book.flush()
    return book.derived


def _channel_of(e: Event) -> int | None:
    """The channel a voice event names (the payload's, else the event's)."""
    return _int(e.payload.get("channel_id")) or e.channel_id


def _company_channels(book: VoiceBook, voice: Sequence[Event]) -> tuple[set[tuple[int, int]], datetime]:
    """The channels whose sessions the batch's ticks count as company, and from when: the channels the
    events name and those of their members' open sessions, from the earliest of those sessions' starts."""
    channels: set[tuple[int, int]] = set()
    since = min((e.occurred_at for e in voice), default=book.now)
    for e in voice:
        channel = _channel_of(e)
        if channel is not None:
            channels.add((e.guild_id, channel))
    for session in book.open_sessions():
        channels.add((session.guild_id, session.channel_id))
        since = min(since, session.started_at)
    return channels, since


def _snapshot_members(payloads: Iterable[Any]) -> dict[int, dict[str, Any]]:
    present: dict[int, dict[str, Any]] = {}
    for payload in payloads:
        for m in (payload or {}).get("members") or ():
            uid = _int(m.get("user_id")) if isinstance(m, dict) else None
            if uid is not None and _int(m.get("channel_id")) is not None:
                present[uid] = m
    return present


def _all_parts(book: VoiceBook, e: Event) -> list[Any] | None:
    """Payloads of every part of a multi-part snapshot, or None while some part is still missing."""
    parts = _int(e.payload.get("parts")) or 1
    if parts <= 1:
        return [e.payload]
    base = e.source_event_id.rsplit(":", 1)[0]
    rows = book.conn.execute(text("""
        SELECT payload FROM event_lake WHERE guild_id = :g AND source_system = :s
           AND source_event_id LIKE :prefix AND event_type = 'voice_state_snapshot'"""),
        {"g": e.guild_id, "s": e.source_system, "prefix": base.replace("%", r"\%") + ":%"}).all()
    return [r.payload for r in rows] if len(rows) >= parts else None


def _snapshot(book: VoiceBook, e: Event) -> None:
    payloads = _all_parts(book, e)
    present = _snapshot_members(payloads if payloads is not None else [e.payload])
    book.flush()
    rows = book.conn.execute(text(
        "SELECT * FROM voice_sessions WHERE guild_id = :g AND ended_at IS NULL AND started_at <= :t FOR UPDATE"),
        {"g": e.guild_id, "t": e.occurred_at}).all()
    open_by_user = {r.user_id: _session(r) for r in rows}
    for uid, session in sorted(open_by_user.items()):
        seen = present.get(uid)
        moved = seen is not None and _int(seen.get("channel_id")) != session.channel_id
        # Closing those absent needs the whole picture: wait for the last part of a split snapshot.
        if moved or (seen is None and payloads is not None):
            book.close(session, at=e.occurred_at, reason="snapshot")
    for uid, m in sorted(_snapshot_members([e.payload]).items()):
        current = open_by_user.get(uid)
        if current is not None and current.channel_id == _int(m.get("channel_id")):
            continue
        channel = _int(m.get("channel_id"))
        if channel is not None:
            book.open(guild_id=e.guild_id, user_id=uid, channel_id=channel, at=e.occurred_at,
                      self_mute=bool(m.get("self_mute")), self_deaf=bool(m.get("self_deaf")), event_id=e.id)


def open_sessions(conn: Connection, *, guild_id: int | None = None) -> list[Session]:
    rows = conn.execute(text("""
        SELECT * FROM voice_sessions WHERE ended_at IS NULL AND (CAST(:g AS bigint) IS NULL OR guild_id = :g)
         ORDER BY guild_id, user_id"""), {"g": guild_id})
    return [_session(r) for r in rows]


def tick_sessions(conn: Connection, sessions: Sequence[Session], *, now: datetime) -> list[Event]:
    """Credit open sessions up to ``now`` and close stale ones (callers lock the members first)."""
    book = VoiceBook(conn, now=now)
    book.prefetch({(s.guild_id, s.user_id) for s in sessions})
    for s in sessions:
        fresh = book._open_session(s.guild_id, s.user_id)
        if fresh is not None and fresh.id == s.id:
            book.tick(fresh)
    book.flush()
    return book.derived
