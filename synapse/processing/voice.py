"""Voice sessions as a state machine: voice events in, session changes and derived events out (pure).

A session is one member's stay in one voice channel. ``voice_join`` opens one, ``voice_leave``
closes it, ``voice_move`` closes one and opens the next; ``voice_state_snapshot`` (sent by the relay
when it starts) closes the sessions of members no longer in voice (for a snapshot split in parts,
once every part is in) and opens sessions for members found in voice without one. At most one
session per member is open. Events are applied in time order; a join that arrives after its own
leave (out-of-order delivery) meets that leave among the member's later events and is stored closed
(``late_join``).

Credit is paid through derived ``voice_tick`` events, one per block of ``TICK_MINUTES`` (5) minutes
(payload ``minutes``, ``block``, ``members_in_channel``, ``self_mute``, ``self_deaf``), whose keys are
built from the session's content (member, start time, block number), not from its row id or from when
the timer ran. :func:`tick` pays the complete blocks of open sessions; closing a session pays the
blocks left, the last partial one included. The lake drops a block already written, so a session
earns the same whether the timer ran every minute, once, or never (a leave processed after the timer
already paid a block past it keeps that block: at most one block of lag). A session open for
``MAX_SESSION`` (12 h) is assumed stale (a lost leave): it is closed and paid up to that length.
Closing a session also emits ``voice_session_end`` (``duration_seconds``) for rules that pay per
session.

The machine never asks the database anything while it runs. :func:`plan` (or :func:`plan_ticks`)
says what a batch needs as a :class:`Needs`; the caller loads that in one go into a :class:`Known`;
:func:`apply` (or :func:`tick`) returns the :class:`Changes` to write and the derived events to
append. A read outside what was planned is a bug and raises :class:`NotLoaded` instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from synapse.eventlake.events import SYNAPSE, Event

VOICE_TYPES: Final = frozenset({"voice_join", "voice_leave", "voice_move", "voice_state_snapshot"})
# A member's voice events a late join looks for among those that came after it.
MEMBER_VOICE_TYPES: Final = ("voice_join", "voice_leave", "voice_move")
# A session longer than this is assumed stale (a lost leave): it is closed and paid up to this length.
MAX_SESSION: Final = timedelta(hours=12)
MINUTE: Final = timedelta(minutes=1)
# Minutes paid per tick: one derived event (and one rules pass) per 5 minutes of voice, not per minute.
TICK_MINUTES: Final = 5

Member = tuple[int, int]          # (guild, user)
Channel = tuple[int, int]         # (guild, channel)
# A split snapshot's parts share (guild, source_system, source_event_id prefix with its ":", occurred_at).
SnapshotKey = tuple[int, str, str, datetime]


class NotLoaded(LookupError):
    """The machine needed something the caller did not load (the plan and the load disagree: a bug)."""


@dataclass(frozen=True, slots=True)
class Session:
    """One member's stay in one voice channel; ``id`` < 0 names a session opened by this run, not stored yet."""

    guild_id: int
    id: int
    user_id: int
    channel_id: int
    started_at: datetime
    ended_at: datetime | None
    last_tick_at: datetime | None
    self_mute: bool
    self_deaf: bool


@dataclass(frozen=True, slots=True)
class Needs:
    """What a batch needs from the database; one load answers all of it.

    - ``members``: their open sessions (read locked; a member without one has none).
    - ``guilds``: every open session in these guilds (a snapshot's picture of who is in voice).
    - ``channels``: the sessions of each channel open at that time or ending after it (the company a
      tick counts). The loader adds the channel of every open session it loads, from at most
      :func:`unpaid_from` that session (where its next tick block starts).
    - ``later``: the times of each member's voice events (``MEMBER_VOICE_TYPES``) after that time,
      except the events of ``batch`` (applied here, in order): a late join's end.
    - ``snapshots``: the payloads of every part of these split snapshots already in the lake.
    """

    members: frozenset[Member] = frozenset()
    guilds: frozenset[int] = frozenset()
    channels: Mapping[Channel, datetime] = field(default_factory=dict)
    later: Mapping[Member, datetime] = field(default_factory=dict)
    batch: frozenset[str] = frozenset()
    snapshots: frozenset[SnapshotKey] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.members or self.guilds or self.channels or self.later or self.snapshots)


@dataclass(frozen=True, slots=True)
class Company:
    """A channel's sessions open at ``since`` or ending after it (any member's, open ones included)."""

    since: datetime
    sessions: tuple[Session, ...] = ()


@dataclass(frozen=True, slots=True)
class Known:
    """The database's answer to ``needs``: open sessions by member, channels' company, members' later
    voice event times, and split snapshots' parts (source_event_id → payload)."""

    needs: Needs
    open: Mapping[Member, Session] = field(default_factory=dict)
    company: Mapping[Channel, Company] = field(default_factory=dict)
    later: Mapping[Member, tuple[datetime, ...]] = field(default_factory=dict)
    parts: Mapping[SnapshotKey, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Opened:
    """A session this run opened, as it ends up (``session.ended_at`` and ``end_reason`` set if closed too)."""

    session: Session
    start_event_id: int | None
    end_reason: str | None


@dataclass(frozen=True, slots=True)
class Closed:
    """A stored session closed at ``ended_at`` (its tick watermark moves there too)."""

    guild_id: int
    id: int
    ended_at: datetime
    end_reason: str


@dataclass(frozen=True, slots=True)
class Ticked:
    """A stored session, still open, paid up to ``last_tick_at``."""

    guild_id: int
    id: int
    last_tick_at: datetime


@dataclass(frozen=True, slots=True)
class Changes:
    """What to write: sessions opened (in the order opened), stored sessions closed, stored sessions ticked."""

    opened: tuple[Opened, ...] = ()
    closed: tuple[Closed, ...] = ()
    ticked: tuple[Ticked, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.opened or self.closed or self.ticked)


# -- the public functions -------------------------------------------------------------------------


def voice_events(events: Iterable[Event]) -> list[Event]:
    """The voice events among ``events``, in the order they are applied (time, then lake id)."""
    return sorted((e for e in events if e.event_type in VOICE_TYPES), key=lambda e: (e.occurred_at, e.id or 0))


def plan(events: Iterable[Event]) -> Needs:
    """What :func:`apply` will need to apply these events."""
    members: set[Member] = set()
    guilds: set[int] = set()
    channels: dict[Channel, datetime] = {}
    later: dict[Member, datetime] = {}
    snapshots: set[SnapshotKey] = set()
    voice = voice_events(events)
    for e in voice:
        at = e.occurred_at
        if e.event_type == "voice_state_snapshot":
            guilds.add(e.guild_id)
            if _parts(e) > 1:
                snapshots.add(snapshot_key(e))
            for uid, seen in present_members([e.payload]).items():
                _earliest(later, (e.guild_id, uid), at)
                _earliest(channels, (e.guild_id, _channel(seen)), at)
            continue
        if e.user_id is None:
            continue
        members.add((e.guild_id, e.user_id))
        channel = channel_of(e)
        if e.event_type in ("voice_join", "voice_move") and channel is not None:
            _earliest(later, (e.guild_id, e.user_id), at)
            _earliest(channels, (e.guild_id, channel), at)
    return Needs(members=frozenset(members), guilds=frozenset(guilds), channels=channels, later=later,
                 batch=frozenset(e.source_event_id for e in voice), snapshots=frozenset(snapshots))


def apply(known: Known, events: Iterable[Event], *, now: datetime) -> tuple[Changes, tuple[Event, ...]]:
    """Apply new voice events (taken in time order) to the sessions ``known`` holds (loaded for
    :func:`plan` of the same events): the changes to write and the derived events to append."""
    machine = _Machine(known, now=now)
    for e in voice_events(events):
        p = e.payload
        channel = channel_of(e)
        if e.event_type == "voice_state_snapshot":
            machine.snapshot(e)
        elif e.user_id is None:
            continue
        elif e.event_type == "voice_join" and channel is not None:
            machine.open(guild_id=e.guild_id, user_id=e.user_id, channel_id=channel, at=e.occurred_at,
                         self_mute=bool(p.get("self_mute")), self_deaf=bool(p.get("self_deaf")), event_id=e.id)
        elif e.event_type == "voice_move" and channel is not None:
            machine.close_open((e.guild_id, e.user_id), at=e.occurred_at, reason="moved")
            machine.open(guild_id=e.guild_id, user_id=e.user_id, channel_id=channel, at=e.occurred_at,
                         self_mute=bool(p.get("self_mute")), self_deaf=bool(p.get("self_deaf")), event_id=e.id)
        elif e.event_type == "voice_leave":
            machine.close_open((e.guild_id, e.user_id), at=e.occurred_at, reason="left")
    return machine.changes(), tuple(machine.derived)


def plan_ticks(sessions: Iterable[Session]) -> Needs:
    """What :func:`tick` will need: the members' current open sessions (their channels come with them)."""
    return Needs(members=frozenset((s.guild_id, s.user_id) for s in sessions))


def tick(known: Known, sessions: Sequence[Session], *, now: datetime) -> tuple[Changes, tuple[Event, ...]]:
    """Pay open sessions their complete blocks up to ``now`` and close stale ones. ``sessions`` may be an
    older view (the timer's list): only a session still open in ``known`` (same id) is ticked."""
    machine = _Machine(known, now=now)
    for s in sessions:
        machine.tick(s)
    return machine.changes(), tuple(machine.derived)


def session_start_key(session: Session) -> str:
    """The part of derived keys that names a session by content (stable across replays and workers)."""
    return f"{session.user_id}:{session.started_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"


def unpaid_from(session: Session) -> datetime:
    """Where the session's first block not paid yet starts (the earliest company its ticks can ask about)."""
    return _minute_at(session, _paid_blocks(session) * TICK_MINUTES)


def channel_of(e: Event) -> int | None:
    """The channel a voice event names (the payload's, else the event's)."""
    return _int(e.payload.get("channel_id")) or e.channel_id


def present_members(payloads: Iterable[Any]) -> dict[int, Mapping[str, Any]]:
    """The members snapshot payloads list in a channel, by user id (malformed entries skipped)."""
    present: dict[int, Mapping[str, Any]] = {}
    for payload in payloads:
        members = payload.get("members") if isinstance(payload, Mapping) else None
        for m in members if isinstance(members, list | tuple) else ():
            uid = _int(m.get("user_id")) if isinstance(m, Mapping) else None
            if uid is not None and _int(m.get("channel_id")) is not None:
                present[uid] = m
    return present


def snapshot_key(e: Event) -> SnapshotKey:
    """What the parts of a split snapshot share: the relay's ids ``voice_state_snapshot:{guild}:{at}:{n}/{parts}``
    up to ``{n}``, and the snapshot's time (relay/normalise.py)."""
    return (e.guild_id, e.source_system, e.source_event_id.rsplit(":", 1)[0] + ":", e.occurred_at)


# -- the machine ----------------------------------------------------------------------------------


class _Machine:
    """One run's view of the sessions: ``known`` plus what this run changed, and the derived events so far.

    A session this run opens gets a provisional negative id. The company a tick counts comes from
    the channels' sessions in ``known``, kept up to date as sessions open and close, so a busy batch
    counts sessions opened earlier in it exactly as one event per batch would.
    """

    def __init__(self, known: Known, *, now: datetime) -> None:
        self.known = known
        self.needs = known.needs
        self.now = now
        self.derived: list[Event] = []
        # The open session of a member as this run left it (None: none); members not here: as known.
        self._open: dict[Member, Session | None] = {}
        # Sessions opened: provisional id -> (latest state, start event id, end reason).
        self._new: dict[int, tuple[Session, int | None, str | None]] = {}
        # Stored sessions closed ((guild, id) -> (closed state, reason)) or ticked ((guild, id) -> watermark).
        self._closed: dict[tuple[int, int], tuple[Session, str]] = {}
        self._ticked: dict[tuple[int, int], datetime] = {}
        self._provisional = 0
        # Per channel: (since, sessions by id) as known, then as changed by this run.
        self._channels: dict[Channel, tuple[datetime, dict[int, Session]]] = {
            channel: (c.since, {s.id: s for s in c.sessions}) for channel, c in known.company.items()}
        for s in known.open.values():
            self._remember(s)

    # -- reads (from ``known`` and this run's changes only) -------------------------------------

    def current(self, member: Member) -> Session | None:
        if member in self._open:
            return self._open[member]
        if member not in self.needs.members and member[0] not in self.needs.guilds:
            raise NotLoaded(f"voice: the open session of member {member[1]} in guild {member[0]} was not loaded")
        return self.known.open.get(member)

    def _guild_open(self, guild_id: int, at: datetime) -> dict[int, Session]:
        """The guild's sessions open now that started by ``at``, by member."""
        if guild_id not in self.needs.guilds:
            raise NotLoaded(f"voice: the open sessions of guild {guild_id} were not loaded")
        members = {m for m in self.known.open if m[0] == guild_id} | {m for m in self._open if m[0] == guild_id}
        found = {m[1]: s for m in members if (s := self.current(m)) is not None and s.started_at <= at}
        return dict(sorted(found.items()))

    def _next_voice_event_after(self, member: Member, at: datetime) -> datetime | None:
        """When the member's next voice event after ``at`` happened (a late join meets its leave)."""
        since = self.needs.later.get(member)
        if since is None or at < since:
            raise NotLoaded(f"voice: the later events of member {member[1]} in guild {member[0]} were not loaded")
        return min((t for t in self.known.later.get(member, ()) if t > at), default=None)

    def _company(self, session: Session, start: datetime, end: datetime) -> list[tuple[datetime, datetime | None]]:
        """Other members' sessions in the same channel overlapping [start, end]."""
        known = self._channels.get((session.guild_id, session.channel_id))
        if known is None or start < known[0]:
            raise NotLoaded(f"voice: the sessions of channel {session.channel_id} in guild {session.guild_id} "
                            f"from {start.isoformat()} were not loaded")
        return [(s.started_at, s.ended_at) for s in known[1].values() if s.user_id != session.user_id
                and s.started_at <= end and (s.ended_at is None or s.ended_at > start)]

    def _all_parts(self, e: Event) -> list[Mapping[str, Any]] | None:
        """Payloads of every part of a split snapshot, or None while some part is still missing."""
        parts = _parts(e)
        if parts <= 1:
            return [e.payload]
        key = snapshot_key(e)
        if key not in self.needs.snapshots:
            raise NotLoaded(f"voice: the parts of snapshot {key[2]}* were not loaded")
        found = {**self.known.parts.get(key, {}), e.source_event_id: e.payload}
        return list(found.values()) if len(found) >= parts else None

    # -- transitions -----------------------------------------------------------------------------

    def open(self, *, guild_id: int, user_id: int, channel_id: int, at: datetime, self_mute: bool = False,
             self_deaf: bool = False, event_id: int | None = None) -> None:
        member = (guild_id, user_id)
        current = self.current(member)
        end = self._next_voice_event_after(member, at)
        if current is not None:
            if current.started_at <= at:
                self.close(current, at=at, reason="rejoined")
            elif end is None or current.started_at < end:
                end = current.started_at  # a late join: its stay ended when the open session began
        # A stay already known to have ended is closed at once (stored closed: one open session per member).
        self._provisional -= 1
        session = Session(guild_id, self._provisional, user_id, channel_id, at, None, None, self_mute, self_deaf)
        self._new[session.id] = (session, event_id, None)
        self._remember(session)
        if end is not None:
            self.close(session, at=end, reason="late_join")
        else:
            self._open[member] = session

    def close(self, session: Session, *, at: datetime, reason: str) -> None:
        end = max(min(at, session.started_at + MAX_SESSION), session.started_at)
        member = (session.guild_id, session.user_id)
        current = self.current(member)   # (a late stay closes; the member's open session stays open)
        if current is None or current.id == session.id:
            self._open[member] = None
        closed = replace(session, ended_at=end, last_tick_at=end)
        if closed.id < 0:
            _, event_id, _ = self._new[closed.id]
            self._new[closed.id] = (closed, event_id, reason)
        else:
            self._closed[(closed.guild_id, closed.id)] = (closed, reason)
            self._ticked.pop((closed.guild_id, closed.id), None)
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

    def close_open(self, member: Member, *, at: datetime, reason: str) -> None:
        current = self.current(member)
        if current is not None and current.started_at <= at:
            self.close(current, at=at, reason=reason)

    def tick(self, session: Session) -> None:
        """Emit the complete blocks an open session has earned by now and move its watermark."""
        current = self.current((session.guild_id, session.user_id))
        if current is None or current.id != session.id or current.started_at != session.started_at:
            return   # closed (or replaced) since the caller's view: a closed session earns no more ticks
        if current.started_at + MAX_SESSION <= self.now:
            self.close(current, at=current.started_at + MAX_SESSION, reason="stale")
            return
        blocks = _minutes(current, self.now) // TICK_MINUTES
        if blocks <= _paid_blocks(current):
            return
        self.derived.extend(self._ticks(current, until=self.now, final=False))
        watermark = _minute_at(current, blocks * TICK_MINUTES)
        ticked = replace(current, last_tick_at=watermark)
        self._open[(current.guild_id, current.user_id)] = ticked
        if ticked.id < 0:
            _, event_id, reason = self._new[ticked.id]
            self._new[ticked.id] = (ticked, event_id, reason)
        else:
            self._ticked[(ticked.guild_id, ticked.id)] = watermark

    def snapshot(self, e: Event) -> None:
        payloads = self._all_parts(e)
        present = present_members(payloads if payloads is not None else [e.payload])
        open_by_user = self._guild_open(e.guild_id, e.occurred_at)
        for uid, session in open_by_user.items():
            seen = present.get(uid)
            moved = seen is not None and _channel(seen) != session.channel_id
            # Closing those absent needs the whole picture: wait for the last part of a split snapshot.
            if moved or (seen is None and payloads is not None):
                self.close(session, at=e.occurred_at, reason="snapshot")
        for uid, seen in sorted(present_members([e.payload]).items()):
            current = open_by_user.get(uid)
            channel = _channel(seen)
            if current is not None and current.channel_id == channel:
                continue
            self.open(guild_id=e.guild_id, user_id=uid, channel_id=channel, at=e.occurred_at,
                      self_mute=bool(seen.get("self_mute")), self_deaf=bool(seen.get("self_deaf")), event_id=e.id)

    # -- derived events and results -------------------------------------------------------------

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

    def _remember(self, session: Session) -> None:
        """Keep the channel's view up to date (a channel not loaded is never read either)."""
        known = self._channels.get((session.guild_id, session.channel_id))
        if known is not None:
            known[1][session.id] = session

    def changes(self) -> Changes:
        return Changes(
            opened=tuple(Opened(s, event_id, reason)
                         for _, (s, event_id, reason) in sorted(self._new.items(), reverse=True)),
            closed=tuple(Closed(g, i, s.ended_at or s.started_at, reason)
                         for (g, i), (s, reason) in sorted(self._closed.items())),
            ticked=tuple(Ticked(g, i, at) for (g, i), at in sorted(self._ticked.items())))


# -- helpers ---------------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _channel(seen: Mapping[str, Any]) -> int:
    """The channel of a member :func:`present_members` kept (it has one)."""
    channel = _int(seen.get("channel_id"))
    assert channel is not None
    return channel


def _parts(e: Event) -> int:
    return _int(e.payload.get("parts")) or 1


def _earliest(times: dict[Any, datetime], key: Any, at: datetime) -> None:
    times[key] = min(times.get(key, at), at)


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
