"""The voice state machine on plain data (no database): sessions, ticks, snapshots, late events, replays.

``World`` stands in for the database: stored sessions and the lake, loading exactly what a plan asks
for (the open sessions' company from :func:`unpaid_from`, the tightest the contract allows) and writing
the changes back, so a test can run a story message by message as ingest and the timer would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from synapse.eventlake.events import DISCORD, SYNAPSE, Event
from synapse.processing.voice import (
    MAX_SESSION,
    MEMBER_VOICE_TYPES,
    VOICE_TYPES,
    Changes,
    Closed,
    Company,
    Known,
    Needs,
    NotLoaded,
    Session,
    Ticked,
    apply,
    plan,
    plan_ticks,
    tick,
    unpaid_from,
)

GUILD = 77
A, B, C = 501, 502, 503
LOUNGE, GAMING = 9001, 9002
T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def ev(kind: str, user: int | None, at: datetime, *, guild: int = GUILD, key: str | None = None,
       **payload: Any) -> Event:
    """A voice event as the relay sends it (ids and payload shapes of relay/normalise.py)."""
    channel = payload.get("channel_id")
    stamp = at.isoformat().replace("+00:00", "Z")
    source_id = key or (f"voice_state_snapshot:{guild}:{stamp}" if kind == "voice_state_snapshot"
                        else f"{kind}:{user}:{channel}:{stamp}")
    return Event(DISCORD, source_id, kind, guild, user, channel, at,
                 {k: str(v) if k.endswith("channel_id") else v for k, v in payload.items()})


def present(*members: tuple[int, int], mute: bool = False) -> list[dict[str, Any]]:
    return [{"user_id": str(u), "channel_id": str(c), "self_mute": mute, "self_deaf": False} for u, c in members]


@dataclass
class World:
    """Stored sessions and the lake, kept as the database keeps them."""

    sessions: dict[int, Session] = field(default_factory=dict)
    reasons: dict[int, str | None] = field(default_factory=dict)
    lake: dict[tuple[int, str, str], Event] = field(default_factory=dict)

    def load(self, needs: Needs) -> Known:
        open_ = {(s.guild_id, s.user_id): s for s in self.sessions.values() if s.ended_at is None
                 and ((s.guild_id, s.user_id) in needs.members or s.guild_id in needs.guilds)}
        since = dict(needs.channels)
        for s in open_.values():
            channel = (s.guild_id, s.channel_id)
            since[channel] = min(since.get(channel, unpaid_from(s)), unpaid_from(s))
        company = {c: Company(t, tuple(s for s in self.sessions.values() if (s.guild_id, s.channel_id) == c
                                       and (s.ended_at is None or s.ended_at > t))) for c, t in since.items()}
        later = {m: tuple(sorted(e.occurred_at for e in self.lake.values() if (e.guild_id, e.user_id) == m
                                 and e.event_type in MEMBER_VOICE_TYPES and e.occurred_at > t
                                 and e.source_event_id not in needs.batch)) for m, t in needs.later.items()}
        parts = {k: {e.source_event_id: e.payload for e in self.lake.values()
                     if e.event_type == "voice_state_snapshot" and (e.guild_id, e.source_system) == k[:2]
                     and e.source_event_id.startswith(k[2]) and e.occurred_at == k[3]} for k in needs.snapshots}
        return Known(needs, open=open_, company=company, later=later, parts=parts)

    def write(self, changes: Changes) -> None:
        for c in changes.closed:
            assert self.sessions[c.id].ended_at is None, "only open sessions are closed"
            self.sessions[c.id] = replace(self.sessions[c.id], ended_at=c.ended_at, last_tick_at=c.ended_at)
            self.reasons[c.id] = c.end_reason
        for t in changes.ticked:
            self.sessions[t.id] = replace(self.sessions[t.id], last_tick_at=t.last_tick_at)
        for o in changes.opened:
            new_id = len(self.sessions) + 1
            self.sessions[new_id] = replace(o.session, id=new_id)
            self.reasons[new_id] = o.end_reason
        open_members = [(s.guild_id, s.user_id) for s in self.sessions.values() if s.ended_at is None]
        assert len(open_members) == len(set(open_members)), "one open session per member"

    def append(self, events: Iterable[Event]) -> list[Event]:
        new = []
        for e in events:
            if e.key not in self.lake:
                self.lake[e.key] = replace(e, id=len(self.lake) + 1)
                new.append(self.lake[e.key])
        return new

    def ingest(self, *events: Event, now: datetime | None = None) -> list[Event]:
        """One message: append, apply the new voice events, write; the derived events the lake took."""
        new = [e for e in self.append(events) if e.event_type in VOICE_TYPES]
        changes, derived = apply(self.load(plan(new)), new, now=now or minutes(24 * 60))
        self.write(changes)
        return self.append(derived)

    def tick(self, now: datetime, view: Sequence[Session] | None = None) -> list[Event]:
        """The timer: tick the open sessions it read (``view``, by default what is open now)."""
        sessions = list(view if view is not None else self.open())
        changes, derived = tick(self.load(plan_ticks(sessions)), sessions, now=now)
        self.write(changes)
        return self.append(derived)

    def open(self) -> list[Session]:
        return [s for s in self.sessions.values() if s.ended_at is None]

    def stays(self) -> list[tuple[int, int, datetime, datetime | None, str | None]]:
        return sorted(((s.user_id, s.channel_id, s.started_at, s.ended_at, self.reasons[i])
                       for i, s in self.sessions.items()), key=lambda t: (t[:3], t[3] is None, t[3] or T0))

    def derived(self, kind: str, user: int | None = None) -> list[Event]:
        return [e for e in self.lake.values() if e.source_system == SYNAPSE and e.event_type == kind
                and user in (None, e.user_id)]


def paid(world: World, user: int) -> list[tuple[int, int, int]]:
    """(block, minutes, members_in_channel) of a member's ticks, in block order."""
    return sorted((e.payload["block"], e.payload["minutes"], e.payload["members_in_channel"])
                  for e in world.derived("voice_tick", user))


def test_join_and_leave_close_a_session_paid_in_blocks_of_five_minutes() -> None:
    """A 23-minute stay: one session closed as left, 4 blocks of 5 and one of 3, a session end of 1390 s."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, minutes(0.5), channel_id=LOUNGE))
    world.ingest(ev("voice_leave", A, minutes(23) + timedelta(seconds=10), channel_id=LOUNGE))
    assert world.stays()[0] == (A, LOUNGE, T0, minutes(23) + timedelta(seconds=10), "left")
    assert paid(world, A) == [(1, 5, 2), (2, 5, 2), (3, 5, 2), (4, 5, 2), (5, 3, 2)]
    [end] = world.derived("voice_session_end", A)
    assert (end.payload["duration_seconds"], end.payload["minutes"], end.payload["end_reason"]) == (1390, 23, "left")
    assert [e.occurred_at for e in world.derived("voice_tick", A)] == [minutes(m) for m in (5, 10, 15, 20, 23)]


def test_company_is_counted_at_the_middle_of_each_block() -> None:
    """B present during A's second block only: members_in_channel is 2 there and 1 elsewhere."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE))
    world.ingest(ev("voice_join", B, minutes(5), channel_id=LOUNGE))
    world.ingest(ev("voice_leave", B, minutes(10), channel_id=LOUNGE))
    world.ingest(ev("voice_leave", A, minutes(15), channel_id=LOUNGE))
    assert paid(world, A) == [(1, 5, 1), (2, 5, 2), (3, 5, 1)]


def test_move_closes_one_session_and_opens_the_next() -> None:
    """voice_move: the stored session is closed as moved (a Closed change), the new one opened (an Opened one)."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE))
    stored = world.open()[0]
    [move] = world.append([ev("voice_move", A, minutes(10), channel_id=GAMING, from_channel_id=LOUNGE)])
    changes, _ = apply(world.load(plan([move])), [move], now=minutes(10))
    assert changes.closed == (Closed(GUILD, stored.id, minutes(10), "moved"),)
    [opened] = changes.opened
    assert (opened.session.channel_id, opened.session.started_at, opened.session.ended_at) == (GAMING, minutes(10),
                                                                                              None)
    assert opened.start_event_id == move.id is not None and opened.end_reason is None


def test_mute_and_deaf_travel_from_the_join_to_the_session_and_its_ticks() -> None:
    """self_mute/self_deaf of the join are the session's, and every tick and the session end carry them."""
    world = World()
    world.ingest(ev("voice_join", C, T0, channel_id=GAMING, self_mute=True, self_deaf=True))
    [session] = world.open()
    assert (session.self_mute, session.self_deaf) == (True, True)
    world.ingest(ev("voice_leave", C, minutes(12), channel_id=GAMING))
    derived = world.derived("voice_tick", C) + world.derived("voice_session_end", C)
    assert len(derived) == 4
    assert {(e.payload["self_mute"], e.payload["self_deaf"]) for e in derived} == {(True, True)}


def test_snapshot_closes_stale_sessions_and_opens_present_ones() -> None:
    """At relay start the snapshot is the truth: absent A closed, B kept, C (moved) closed and reopened, D opened."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE),
                 ev("voice_join", C, T0, channel_id=LOUNGE))
    at = minutes(40)
    world.ingest(ev("voice_state_snapshot", None, at, members=present((B, LOUNGE), (C, GAMING), (504, GAMING))))
    assert world.stays() == [(A, LOUNGE, T0, at, "snapshot"), (B, LOUNGE, T0, None, None),
                             (C, LOUNGE, T0, at, "snapshot"), (C, GAMING, at, None, None),
                             (504, GAMING, at, None, None)]
    assert sum(e.payload["minutes"] for e in world.derived("voice_tick", A)) == 40


def test_a_split_snapshot_closes_absent_members_only_once_every_part_is_in() -> None:
    """Part 1 of 2 opens its members but closes nobody; part 2 completes the picture and closes the absent."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    at = minutes(30)
    base = f"voice_state_snapshot:{GUILD}:{at.isoformat().replace('+00:00', 'Z')}"
    world.ingest(ev("voice_state_snapshot", None, at, key=f"{base}:1/2", members=present((C, GAMING)), part=1,
                    parts=2))
    assert [(u, end) for u, _, _, end, _ in world.stays()] == [(A, None), (B, None), (C, None)]
    world.ingest(ev("voice_state_snapshot", None, at, key=f"{base}:2/2", members=present((B, LOUNGE)), part=2,
                    parts=2))
    assert [(u, end, reason) for u, _, _, end, reason in world.stays()] == [(A, at, "snapshot"), (B, None, None),
                                                                             (C, None, None)]


def test_the_timer_pays_complete_blocks_and_moves_the_watermark() -> None:
    """Ticking at 7 min pays block 1 (watermark 5 min); at 16 min blocks 2 and 3; at 18 min nothing new."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE))
    assert [e.payload["block"] for e in world.tick(minutes(7))] == [1]
    assert world.open()[0].last_tick_at == minutes(5)
    assert [e.payload["block"] for e in world.tick(minutes(16))] == [2, 3]
    changes, derived = tick(world.load(plan_ticks(world.open())), world.open(), now=minutes(18))
    assert (changes, derived) == (Changes(), ())
    changes, _ = tick(world.load(plan_ticks(world.open())), world.open(), now=minutes(20))
    assert changes.ticked == (Ticked(GUILD, world.open()[0].id, minutes(20)),)


def test_a_tick_never_follows_a_close() -> None:
    """The timer's view read before a leave: ticking it after the leave pays nothing and changes nothing."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE))
    view = world.open()
    world.ingest(ev("voice_leave", A, minutes(20), channel_id=LOUNGE))
    before = world.stays()
    changes, derived = tick(world.load(plan_ticks(view)), view, now=minutes(60))
    assert (changes, derived) == (Changes(), ())
    assert world.stays() == before == [(A, LOUNGE, T0, minutes(20), "left")]


def test_a_view_of_a_replaced_session_is_not_ticked() -> None:
    """The member left and rejoined since the timer's view: the old session's view ticks nothing, not the new one."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE))
    view = world.open()
    world.ingest(ev("voice_move", A, minutes(3), channel_id=GAMING, from_channel_id=LOUNGE))
    assert world.tick(minutes(30), view=view) == []
    assert [e.payload["block"] for e in world.tick(minutes(30))] == [1, 2, 3, 4, 5]


def test_a_stale_session_is_closed_by_the_timer_and_paid_up_to_twelve_hours() -> None:
    """A lost leave: after 12 h the timer closes the session as stale, paying 12 h and not a minute more."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE))
    world.tick(minutes(60))
    world.tick(T0 + timedelta(hours=20))
    assert world.stays() == [(A, LOUNGE, T0, T0 + MAX_SESSION, "stale")]
    assert sum(e.payload["minutes"] for e in world.derived("voice_tick", A)) == 12 * 60


def test_a_leave_arriving_before_its_join_ends_the_late_session() -> None:
    """Out of order: the leave finds no session; the join, later, meets that leave and is stored closed."""
    world = World()
    world.ingest(ev("voice_leave", A, minutes(12), channel_id=LOUNGE))
    assert world.sessions == {}
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE))
    assert world.stays() == [(A, LOUNGE, T0, minutes(12), "late_join")]
    assert sum(e.payload["minutes"] for e in world.derived("voice_tick", A)) == 12


def test_a_late_join_ends_where_the_open_session_began() -> None:
    """A join older than the member's open session is stored closed at that session's start; that one stays open."""
    world = World()
    world.ingest(ev("voice_join", A, minutes(30), channel_id=GAMING))
    world.ingest(ev("voice_join", A, minutes(10), channel_id=LOUNGE))
    assert world.stays() == [(A, LOUNGE, minutes(10), minutes(30), "late_join"), (A, GAMING, minutes(30), None, None)]


def test_a_leave_before_the_session_it_would_close_is_ignored() -> None:
    """A leave older than the open session cannot end it."""
    world = World()
    world.ingest(ev("voice_join", A, minutes(30), channel_id=LOUNGE))
    world.ingest(ev("voice_leave", A, minutes(10), channel_id=LOUNGE))
    assert world.stays() == [(A, LOUNGE, minutes(30), None, None)]


def test_a_duplicate_join_closes_the_open_session_as_rejoined() -> None:
    """A second join while in voice ends the first stay (rejoined) and starts a new one."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", A, minutes(8), channel_id=LOUNGE))
    assert world.stays() == [(A, LOUNGE, T0, minutes(8), "rejoined"), (A, LOUNGE, minutes(8), None, None)]


STORY = [ev("voice_join", A, T0, channel_id=LOUNGE),
         ev("voice_join", B, minutes(2), channel_id=LOUNGE),
         ev("voice_join", C, minutes(4), channel_id=GAMING),
         ev("voice_move", B, minutes(9), channel_id=GAMING, from_channel_id=LOUNGE),
         ev("voice_join", B, minutes(9), channel_id=GAMING),
         ev("voice_state_snapshot", None, minutes(12), members=present((B, GAMING), (C, GAMING), (504, LOUNGE))),
         ev("voice_leave", 504, minutes(16), channel_id=LOUNGE),
         ev("voice_move", A, minutes(21), channel_id=GAMING),
         ev("voice_leave", C, minutes(26), channel_id=GAMING),
         ev("voice_leave", B, minutes(31), channel_id=GAMING)]


def written(world: World) -> tuple[Any, ...]:
    derived = sorted((e.source_event_id, e.occurred_at, tuple(sorted(e.payload.items())))
                     for e in world.lake.values() if e.source_system == SYNAPSE)
    return world.stays(), [s.last_tick_at for s in sorted(world.sessions.values(), key=lambda s: s.started_at)], derived


def test_one_busy_message_writes_what_one_event_per_message_writes() -> None:
    """Sessions opened, moved, snapshotted and closed within one message count each other as company exactly
    as when every event comes alone: the same sessions, the same derived events."""
    together, alone = World(), World()
    together.ingest(*STORY)
    for e in STORY:
        alone.ingest(e)
    assert written(together) == written(alone)
    assert {e.payload["members_in_channel"] for e in together.derived("voice_tick")} == {1, 2, 3}


def test_a_replayed_message_changes_nothing_and_the_same_input_gives_the_same_output() -> None:
    """Derived keys come from content: the same events on the same sessions give equal results, and a message
    delivered again (the lake holds its events) writes nothing."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    leave = ev("voice_leave", A, minutes(17), channel_id=LOUNGE)
    known = world.load(plan([leave]))
    assert apply(known, [leave], now=minutes(17)) == apply(known, [leave], now=minutes(17))
    first = world.ingest(leave)
    state = written(world)
    assert first and world.ingest(leave) == [] and written(world) == state


@pytest.mark.parametrize("rhythm", [(), (7,), (3, 7, 7, 16, 31), tuple(range(1, 34))],
                         ids=["never", "once", "odd", "every-minute"])
def test_a_stay_earns_the_same_whatever_the_timer_did(rhythm: tuple[int, ...]) -> None:
    """Ticks paid by the timer (any rhythm) and by the leave add up to the same blocks, keys and company."""
    world = World()
    world.ingest(ev("voice_join", A, T0, channel_id=LOUNGE), ev("voice_join", B, T0, channel_id=LOUNGE))
    for m in rhythm:
        world.tick(minutes(m) + timedelta(seconds=5))
    world.ingest(ev("voice_leave", A, minutes(33), channel_id=LOUNGE), now=minutes(33))
    assert paid(world, A) == [(1, 5, 2), (2, 5, 2), (3, 5, 2), (4, 5, 2), (5, 5, 2), (6, 5, 2), (7, 3, 2)]


def test_plan_names_what_one_load_must_answer() -> None:
    """Members acted, snapshot guilds, channels and late-join lookups from their earliest time, the batch's keys."""
    join = ev("voice_join", A, minutes(5), channel_id=LOUNGE)
    move = ev("voice_move", A, minutes(2), channel_id=GAMING)
    leave = ev("voice_leave", B, minutes(1), channel_id=LOUNGE)
    snap = ev("voice_state_snapshot", None, minutes(3), guild=GUILD + 1, members=present((C, LOUNGE)))
    needs = plan([join, move, leave, snap, Event(DISCORD, "message_create:1", "message_create", GUILD, A, 1, T0)])
    assert needs == Needs(members=frozenset({(GUILD, A), (GUILD, B)}), guilds=frozenset({GUILD + 1}),
                          channels={(GUILD, LOUNGE): minutes(5), (GUILD, GAMING): minutes(2),
                                    (GUILD + 1, LOUNGE): minutes(3)},
                          later={(GUILD, A): minutes(2), (GUILD + 1, C): minutes(3)},
                          batch=frozenset({join.source_event_id, move.source_event_id, leave.source_event_id,
                                           snap.source_event_id}))


@pytest.mark.parametrize("missing", ["members", "later", "channels"])
def test_a_load_that_misses_what_the_plan_asked_for_is_refused(missing: str) -> None:
    """The machine never guesses: applying with less than the plan asked raises NotLoaded."""
    world = World()
    world.ingest(ev("voice_join", B, T0, channel_id=LOUNGE))
    join = ev("voice_join", A, minutes(3), channel_id=GAMING)
    leave = ev("voice_leave", A, minutes(9), channel_id=GAMING)
    needs = plan([join, leave])
    assert apply(world.load(needs), [join, leave], now=T0)[1], "with the full load it pays"
    known = world.load(dataclasses.replace(needs, **{missing: type(getattr(needs, missing))()}))
    with pytest.raises(NotLoaded):
        apply(known, [join, leave], now=T0)


def test_a_late_join_never_overlaps_the_open_session() -> None:
    """On hand-built data: A's open session began at 30 min and a later event of A is at 50 min; a join at
    10 min ends at 30 min, where the open session began, not at 50."""
    open_a = Session(GUILD, 7, A, LOUNGE, minutes(30), None, None, False, False)
    join = ev("voice_join", A, minutes(10), channel_id=GAMING)
    needs = plan([join])
    known = Known(needs, open={(GUILD, A): open_a}, company={(GUILD, GAMING): Company(minutes(10))},
                  later={(GUILD, A): (minutes(50),)})
    changes, _ = apply(known, [join], now=minutes(60))
    [opened] = changes.opened
    assert (opened.session.ended_at, opened.end_reason) == (minutes(30), "late_join")
    assert changes.closed == () and changes.ticked == ()


def test_company_loaded_from_too_late_is_refused() -> None:
    """A channel's sessions loaded only from after the first block to pay: NotLoaded, not a wrong count."""
    stored = Session(GUILD, 7, A, LOUNGE, T0, None, minutes(10), False, False)
    leave = ev("voice_leave", A, minutes(17), channel_id=LOUNGE)
    needs = plan([leave])
    enough = Known(needs, open={(GUILD, A): stored}, company={(GUILD, LOUNGE): Company(minutes(10))})
    assert [e.payload["block"] for e in apply(enough, [leave], now=minutes(17))[1][:-1]] == [3, 4]
    late = replace(enough, company={(GUILD, LOUNGE): Company(minutes(10) + timedelta(seconds=1))})
    with pytest.raises(NotLoaded):
        apply(late, [leave], now=minutes(17))


def test_late_stays_leave_the_open_session_open() -> None:
    """A's open session comes from a snapshot (no event of A in the lake): two late joins and a late leave,
    all older, end where it began, and it stays open (a late stay's close is not the member's close)."""
    world = World()
    world.ingest(ev("voice_state_snapshot", None, minutes(30), members=present((A, GAMING))))
    world.ingest(*(ev(kind, A, minutes(m), channel_id=LOUNGE)
                   for kind, m in (("voice_join", 10), ("voice_join", 15), ("voice_leave", 20))))
    assert world.stays() == [(A, LOUNGE, minutes(10), minutes(30), "late_join"),
                             (A, LOUNGE, minutes(15), minutes(30), "late_join"), (A, GAMING, minutes(30), None, None)]
