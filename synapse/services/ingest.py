"""Ingest: one queue message, one envelope, one PostgreSQL transaction (DESIGN.md §5).

:func:`handle` is the one entry (the ``ingest`` function, the local runner, the benches and the
relay's end-to-end test call it), in this order and once each:

    decode → BEGIN → lock every member (one statement, sorted) → directory events → lake append (new
    events only) → onboarding (``guild_join``) → member cache → voice (decide on loaded sessions) →
    rules (plan → load → loop, over the new events and voice's derived ones) → one write of the
    ChangeSet (postings, derived events voice's included, grants, fires, outbox rows, voice
    sessions) → COMMIT → announce

The voice timer (:func:`handle_ticks`) goes through the same steps from "lock" on, with the ticks
its open sessions earned instead of an envelope's events.

At-least-once delivery becomes exactly-once crediting because only events the lake did not hold
yet reach the rules, and every posting has a deterministic idempotency key: a redelivered message
appends nothing and so credits nothing. Anything that fails before COMMIT rolls the whole message
back; the queue delivers it again. A message that can never be processed (a malformed envelope)
raises :class:`EnvelopeError` every time and ends in the poison queue.

Locks: one step, :func:`_lock`, before anything is read for a decision or written. The members are
``processing.touched.members_of(events)`` and, for a ``voice_state_snapshot`` (rare: a relay start),
the members it names and those with an open session in its guild (``voice.members_touched``, read
just before the lock). A session opened by another worker between that read and the lock is seen by
voice's load (it locks the open sessions it reads): its member is locked then, the one case of a
second lock statement.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from synapse.bootstrap import rule_cache
from synapse.clock import Clock
from synapse.db import lake_store, ledger_store
from synapse.db.changeset import write
from synapse.db.engine import transaction
from synapse.eventlake.envelope import decode_envelope
from synapse.eventlake.events import Event
from synapse.processing.changes import ChangeSet
from synapse.processing.touched import members_of
from synapse.processing.voice import Changes
from synapse.services import directory, member_admin, members, onboarding, rules_runner, voice

if TYPE_CHECKING:
    from synapse.rules.cache import RuleCache

log = logging.getLogger(__name__)

__all__ = ["IngestResult", "handle", "handle_ticks", "members_of", "rule_cache", "run", "run_ticks"]


@dataclass(frozen=True)
class IngestResult:
    received: int
    new: int
    derived: int = 0
    postings: int = 0
    milestones: int = 0
    outbox_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0
    ticks: int = 0          # voice_tick events derived (the timer's report)
    closed: int = 0         # voice_session_end events derived

    @property
    def duplicate(self) -> bool:
        return self.received > 0 and self.new == 0

    def log_fields(self) -> dict[str, Any]:
        return {"received": self.received, "new": self.new, "derived": self.derived, "postings": self.postings,
                "milestones": self.milestones, "outbox": len(self.outbox_ids), "seconds": round(self.seconds, 4)}


Pairs = set[tuple[int, int]]


def _lock(conn: Connection, pairs: Pairs) -> None:
    """The one lock step: every (guild, member) in one sorted statement, which also takes the
    transaction id the rollup watermark relies on (see services/rollups.py) before the first insert."""
    ledger_store.lock_member_pairs(conn, pairs)


def run(conn: Connection, events: Sequence[Event], *, clock: Clock,
        rules: RuleCache[Any] | None = None) -> IngestResult:
    """Everything between BEGIN and COMMIT for a batch of decoded events (all its writes done on return)."""
    locked = members_of(events)
    snapshots = [e for e in events if e.event_type == "voice_state_snapshot"]
    if snapshots:
        locked |= voice.members_touched(conn, snapshots)
    _lock(conn, locked)
    events = directory.apply_events(conn, events)  # channel/role/guild updates change the directory, not the lake
    new = lake_store.append(conn, events)
    if not new:
        return IngestResult(received=len(events), new=0)
    for e in new:
        if e.event_type == "guild_join":   # the bot is in a guild: set it up if Synapse never saw it
            onboarding.ensure(conn, e.guild_id, name=str(e.payload.get("name") or ""), door="event")
    members.refresh(conn, new)
    changes: Changes = Changes()
    derived: list[Event] = []
    if any(e.event_type in voice.VOICE_TYPES for e in new):
        changes, derived = voice.decide(conn, new, now=clock.now())
        if snapshots:
            _lock_late(conn, changes, derived, locked)
    result = _settle(conn, new, changes, derived, rules)
    member_admin.reset_on_leave(conn, new)   # after the write: it goes through the engine with its own load
    return replace(result, received=len(events))


def run_ticks(conn: Connection, sessions: Sequence[voice.Session], *, now: datetime,
              rules: RuleCache[Any] | None = None) -> IngestResult:
    """The voice timer's transaction for one chunk of open sessions: lock their members, decide the
    ticks they earned (and the stale ones to close), then the same steps as a message."""
    _lock(conn, {(s.guild_id, s.user_id) for s in sessions})
    changes, derived = voice.decide_ticks(conn, sessions, now=now)
    return _settle(conn, [], changes, derived, rules)


def _lock_late(conn: Connection, changes: Changes, derived: Sequence[Event], locked: Pairs) -> None:
    """A snapshot met a session opened after its members were read (see the module docstring): lock
    the members whose sessions voice changes or credits that the one lock step did not cover."""
    late = {(o.session.guild_id, o.session.user_id) for o in changes.opened} | members_of(derived)
    late -= locked
    if late:
        _lock(conn, late)


def _settle(conn: Connection, new: Sequence[Event], voice_changes: Changes, voice_derived: Sequence[Event],
            rules: RuleCache[Any] | None) -> IngestResult:
    """The rules run on the new events and voice's derived ones, and one write of everything (members
    locked): voice's derived events take lake ids the loader reserved and ride in the ChangeSet."""
    done = rules_runner.evaluate(conn, new, rules=rules or rule_cache(), unstored=voice_derived)
    derived = done.stored   # the ones the ChangeSets write (repeats and those already in the lake left out)
    if done.unstored:   # a guild without rules: nothing reserved ids for them
        derived = [*derived, *lake_store.insert_derived(conn, done.unstored)]
    changesets = done.changes
    if voice_changes:   # the voice sessions ride with the first guild's changes (or alone)
        first = changesets[0] if changesets else ChangeSet(new[0].guild_id if new else _guild(voice_changes))
        changesets = [replace(first, voice=voice_changes), *changesets[1:]]
    outbox = [i for changes in changesets for i in write(conn, changes)]
    tally = done.tally
    return IngestResult(received=len(new), new=len(new), derived=len(derived) + tally.derived,
                        postings=tally.postings, milestones=len(tally.milestones), outbox_ids=outbox,
                        ticks=sum(1 for e in derived if e.event_type == "voice_tick"),
                        closed=sum(1 for e in derived if e.event_type == "voice_session_end"))


def _guild(changes: Changes) -> int:
    for o in changes.opened:
        return o.session.guild_id
    for c in changes.closed:
        return c.guild_id
    return changes.ticked[0].guild_id


def handle(envelope: bytes | str | Sequence[Event], engine: Engine, *, clock: Clock,
           rules: RuleCache[Any] | None = None, announce: Callable[[list[int]], object] | None = None,
           message_id: str | None = None, dequeue_count: int | None = None) -> IngestResult:
    """Ingest one envelope (a queue message body, or events decoded already) in one transaction of
    ``engine``; after COMMIT hand the new outbox ids to ``announce``. Raises :class:`EnvelopeError`
    for a malformed body (nothing is opened or written)."""
    from synapse.errors import EnvelopeError

    began = time.perf_counter()
    if isinstance(envelope, bytes | str):
        try:
            events: Sequence[Event] = decode_envelope(envelope)
        except EnvelopeError as exc:
            log.error("rejected malformed envelope: %s", exc.message,
                      extra={"message_id": message_id, "dequeue_count": dequeue_count, "errors": exc.details()[:20]})
            raise
    else:
        events = envelope
    with transaction(engine) as conn:
        result = run(conn, events, clock=clock, rules=rules)
    if result.outbox_ids and announce is not None:
        announce(result.outbox_ids)
    result = replace(result, seconds=time.perf_counter() - began)
    log.info("ingested envelope" if not result.duplicate else "duplicate envelope: nothing new",
             extra={"message_id": message_id, "dequeue_count": dequeue_count, **result.log_fields()})
    return result


def handle_ticks(engine: Engine, sessions: Sequence[voice.Session], *, now: datetime,
                 rules: RuleCache[Any] | None = None,
                 announce: Callable[[list[int]], object] | None = None) -> IngestResult:
    """:func:`run_ticks` in a transaction of its own; after COMMIT announce the new outbox ids."""
    with transaction(engine) as conn:
        result = run_ticks(conn, sessions, now=now, rules=rules)
    if result.outbox_ids and announce is not None:
        announce(result.outbox_ids)
    return result
