"""Ingest one queue message: one envelope, one PostgreSQL transaction (DESIGN.md §5).

    decode → BEGIN → lake append (new events only) → lock members → member cache →
    voice sessions (derived voice_session_end / voice_tick) → rules (postings, level-ups,
    milestones, outbox rows) → COMMIT → enqueue the new outbox ids to synapse-announce

At-least-once delivery becomes exactly-once crediting because only events the
lake did not hold yet reach the rules, and every posting has a deterministic
idempotency key: a redelivered message appends nothing and so credits nothing.
Anything that fails before COMMIT rolls the whole message back; the queue
delivers it again. A message that can never be processed (a malformed envelope)
raises :class:`EnvelopeError` every time and ends in the poison queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from synapse.bootstrap import rule_cache
from synapse.clock import Clock
from synapse.db import lake_store, ledger_store
from synapse.db.engine import transaction
from synapse.eventlake.envelope import decode_envelope
from synapse.eventlake.events import Event
from synapse.processing.touched import members_of
from synapse.services import directory, member_admin, members, onboarding, voice

if TYPE_CHECKING:
    from synapse.rules.cache import RuleCache

log = logging.getLogger(__name__)

__all__ = ["IngestResult", "ingest_events", "ingest_message", "members_of", "process_in_transaction", "rule_cache"]


@dataclass(frozen=True)
class IngestResult:
    received: int
    new: int
    derived: int = 0
    postings: int = 0
    milestones: int = 0
    outbox_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def duplicate(self) -> bool:
        return self.received > 0 and self.new == 0

    def log_fields(self) -> dict[str, Any]:
        return {"received": self.received, "new": self.new, "derived": self.derived, "postings": self.postings,
                "milestones": self.milestones, "outbox": len(self.outbox_ids), "seconds": round(self.seconds, 4)}


def process_in_transaction(conn: Connection, events: Sequence[Event], *, clock: Clock,
                           rules: RuleCache[Any] | None = None) -> IngestResult:
    """Everything between BEGIN and COMMIT for a batch of decoded events."""
    events = directory.apply_events(conn, events)  # channel/role/guild updates change the directory, not the lake
    # One round trip before the first insert: lock every member the events can touch (all of them
    # before anything is written, so no worker ever waits for a lock while holding lake rows another
    # one waits for), and take a transaction id, which the rollup watermark relies on
    # (see services/rollups.py).
    ledger_store.lock_member_pairs(conn, members_of(events))
    new = lake_store.append(conn, events)
    if not new:
        return IngestResult(received=len(events), new=0)
    if any(e.event_type == "voice_state_snapshot" for e in new):
        # Members in voice are known only now (rare: relay start).
        ledger_store.lock_member_pairs(conn, voice.members_touched(conn, new))
    for e in new:
        if e.event_type == "guild_join":   # the bot is in a guild: set it up if Synapse never saw it
            onboarding.ensure(conn, e.guild_id, name=str(e.payload.get("name") or ""), door="event")
    members.refresh(conn, new)
    derived: list[Event] = []
    if any(e.event_type in voice.VOICE_TYPES for e in new):
        derived = lake_store.insert_derived(conn, voice.apply(conn, new, now=clock.now()))
    from synapse.services.rules_runner import process

    # Every member these events touch is locked above (members_of, and voice.members_touched for a
    # snapshot), so the runner takes no locks of its own and trusts what it reads after them.
    result = process(conn, [*new, *derived], rules=rules or rule_cache(), clock=clock, members_locked=True)
    member_admin.reset_on_leave(conn, new)
    return IngestResult(received=len(events), new=len(new), derived=len(derived) + result.derived,
                        postings=result.postings, milestones=result.milestones,
                        outbox_ids=list(result.outbox_ids))


def ingest_events(engine: Engine, events: Sequence[Event], *, clock: Clock, rules: RuleCache[Any] | None = None,
                  announce: Callable[[list[int]], object] | None = None) -> IngestResult:
    """Process decoded events in one transaction; after commit hand the new outbox ids to ``announce``."""
    began = time.perf_counter()
    with transaction(engine) as conn:
        result = process_in_transaction(conn, events, clock=clock, rules=rules)
    if result.outbox_ids and announce is not None:
        announce(result.outbox_ids)
    return IngestResult(**{**result.__dict__, "seconds": time.perf_counter() - began})


def ingest_message(engine: Engine, body: bytes | str, *, clock: Clock, rules: RuleCache[Any] | None = None,
                   announce: Callable[[list[int]], object] | None = None,
                   message_id: str | None = None, dequeue_count: int | None = None) -> IngestResult:
    """Decode a queue message body and ingest it. Raises :class:`EnvelopeError` for a malformed body."""
    from synapse.errors import EnvelopeError

    try:
        events = decode_envelope(body)
    except EnvelopeError as exc:
        log.error("rejected malformed envelope: %s", exc.message,
                  extra={"message_id": message_id, "dequeue_count": dequeue_count, "errors": exc.details()[:20]})
        raise
    result = ingest_events(engine, events, clock=clock, rules=rules, announce=announce)
    log.info("ingested envelope" if not result.duplicate else "duplicate envelope: nothing new",
             extra={"message_id": message_id, "dequeue_count": dequeue_count, **result.log_fields()})
    return result
