"""The processing service: new lake events → rules → ledger, milestones, outbox, derived events.

The ingest pipeline calls ``process`` inside its open transaction, right after
``lake_store.append`` returned the newly inserted events, and sends
``ProcessResult.outbox_ids`` after commit. See ``docs/pipeline.md`` for the contract.

Member locks: ``evaluate`` takes none and writes nothing; its caller holds the locks for every
member ``touched.members_of(events)`` names and writes the changes (the pipeline, ``services.ingest``,
takes them in its one lock step). ``process`` is lock → evaluate → write, for callers outside the
pipeline.

One path for every guild's batch: the pure planner says which facts the events can ask about
(``processing.plan.facts_needed``), the loader reads them in one round trip
(``db.snapshot.load``), the one state (``processing.state.MemoryState``) runs the loop and records
a ``ChangeSet``, and the writer stores it in bulk (``db.changeset.write``), the database checking
every balance. A wrong prediction raises ``Mispredicted``: the transaction rolls back and the queue
delivers the message again. Manual actions (``post_by_hand``, ``grant_by_hand``) take the same path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, text

from synapse.bootstrap import rule_cache
from synapse.clock import Clock
from synapse.db import ledger_store, level_roles_store, rules_store
from synapse.db import snapshot as loader
from synapse.db.changeset import Mispredicted, write
from synapse.errors import ErrorDetail, ValidationFailed
from synapse.eventlake.events import SYNAPSE, Event
from synapse.ledger.model import Posting
from synapse.milestones.criteria import MilestoneRecord, compile_milestones
from synapse.processing import loop, touched
from synapse.processing.changes import ChangeSet
from synapse.processing.loop import Context, Tally
from synapse.processing.plan import facts_needed
from synapse.processing.snapshot import Snapshot, state_for
from synapse.processing.state import IdsExhausted, MemoryState
from synapse.rules.cache import RuleCache
from synapse.rules.compile import compile_rules
from synapse.rules.decisions import LevelUpRoute

__all__ = ["MAX_DEPTH", "Evaluated", "Mispredicted", "ProcessResult", "evaluate", "grant_by_hand", "load_context",
           "members_of", "post_by_hand", "process"]

MAX_DEPTH = 3

log = logging.getLogger(__name__)

_FINGERPRINT = text("""
SELECT g.rules_version,
       (SELECT COALESCE(array_agg(key ORDER BY key), '{}') FROM modules
         WHERE guild_id = g.guild_id AND NOT enabled) AS disabled,
       (SELECT md5(COALESCE(string_agg(m.milestone_id || ':' || m.enabled || ':' || m.criteria::text
                                       || ':' || m.rewards::text || ':' || m.announce, ','
                                       ORDER BY m.milestone_id), ''))
          FROM milestones m WHERE m.guild_id = g.guild_id) AS milestones,
       (SELECT md5(COALESCE(string_agg(c.key || ':' || c.levelled || ':' || c.curve::text, ',' ORDER BY c.key), ''))
          FROM currencies c WHERE c.guild_id = g.guild_id) AS currencies,
""" + rules_store.LEVELUP_SETTINGS.format(g="g.guild_id") + ",\n" + level_roles_store.FINGERPRINT.format(
    g="g.guild_id") + """
  FROM guilds g WHERE g.guild_id = :g
""")


@dataclass(frozen=True)
class ProcessResult:
    events: int = 0                 # events evaluated, derived ones included
    derived: int = 0                # derived events written to the lake
    postings: int = 0               # transactions really written
    milestones: int = 0             # user_milestones rows granted
    outbox_ids: list[int] = field(default_factory=list)   # outbox rows inserted (send after commit)
    level_ups: int = 0
    elapsed_ms: float = 0.0


def load_context(conn: Connection, guild_id: int, cache: RuleCache[Any], *, max_depth: int = MAX_DEPTH) -> Context:
    """The compiled rules, milestones and currencies of a guild (cached until something changes)."""
    row = conn.execute(_FINGERPRINT, {"g": guild_id}).first()
    if row is None:
        # A guild Synapse has never seen sets itself up with its first event (services/onboarding.py).
        from synapse.services import onboarding

        onboarding.ensure(conn, guild_id, door="event")
        row = conn.execute(_FINGERPRINT, {"g": guild_id}).first()
    # The level-up setting is part of the fingerprint: changing it refreshes every worker's context.
    fingerprint = None if row is None else (row.rules_version, tuple(row.disabled), row.milestones,
                                            row.currencies, max_depth, row.levelup_mode, row.levelup_channel_id,
                                            row.level_roles, row.rule_settings)
    disabled = frozenset(row.disabled) if row is not None else frozenset()

    rule_settings = None if row is None else row.rule_settings

    def load() -> Context:
        currencies = ledger_store.load_currencies(conn, guild_id)
        rules = compile_rules(rules_store.load_rules(conn, guild_id), disabled_modules=disabled,
                              max_depth=max_depth, texts=level_roles_store.rule_texts(rule_settings),
                              level_roles=level_roles_store.load_table(conn, guild_id, rule_settings))
        milestones = compile_milestones(rules_store.load_milestones(conn, guild_id),
                                        curves={k: c.curve for k, c in currencies.items()})
        levelup = LevelUpRoute() if row is None else LevelUpRoute.of(row.levelup_mode, row.levelup_channel_id)
        return Context(rules, currencies, milestones, milestones_enabled="milestones" not in disabled,
                       levelup=levelup)

    if fingerprint is None:
        return load()  # unknown guild: nothing cached, no rules
    ctx: Context = cache.get(guild_id, fingerprint, load)
    return ctx


def members_of(events: Iterable[Event]) -> set[int]:
    """Every member an event's rules may credit or debit (one guild's events; ``processing.touched``)."""
    return {u for _, u in touched.members_of(events)}


@dataclass
class Evaluated:
    """What a batch's rules decided, not yet written: one ``ChangeSet`` per guild, and the tally.

    ``stored``: the derived events given to :func:`evaluate` that the ChangeSets carry (with their lake
    ids; repeats and those the lake held already are left out); ``unstored``: those no ChangeSet carries
    (a guild without rules): the caller appends them to the lake itself.
    """

    changes: list[ChangeSet] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    stored: list[Event] = field(default_factory=list)
    unstored: list[Event] = field(default_factory=list)


def evaluate(conn: Connection, events: Sequence[Event], *, rules: RuleCache[Any],
             max_depth: int = MAX_DEPTH, unstored: Sequence[Event] = ()) -> Evaluated:
    """Plan, load (one round trip per guild) and run the rules on newly inserted events; write nothing.

    ``unstored``: derived events not in the lake yet (voice's ticks and session ends), run after
    ``events``: each takes a lake id the loader reserved and rides in the guild's ChangeSet, so the
    one writer appends them with the rest (no insert of their own before the rules run).

    The caller holds the member locks for every member ``touched.members_of`` names in ``events`` and
    ``unstored`` (the pipeline's one lock step, ``services.ingest``; :func:`process` for callers outside
    it) and writes ``changes`` with ``db.changeset.write`` before it commits.
    """
    missing = [ErrorDetail(f"events[{i}].id", "not set: pass the events lake_store.append returned")
               for i, e in enumerate(events) if e.id is None]
    if missing:
        raise ValidationFailed("events must come from the lake", missing)
    foreign = [ErrorDetail(f"unstored[{i}].source_system", f"{e.source_system!r}: only {SYNAPSE!r} (derived events)")
               for i, e in enumerate(unstored) if e.source_system != SYNAPSE]
    if foreign:
        raise ValidationFailed("only Synapse's own derived events can be appended by the writer", foreign)
    by_guild: dict[int, tuple[list[Event], list[Event]]] = {}
    for part, given in enumerate((events, unstored)):
        for e in given:
            lists = by_guild.get(e.guild_id)
            if lists is None:
                lists = by_guild[e.guild_id] = ([], [])
            lists[part].append(e)
    out = Evaluated()
    tally = out.tally
    for guild_id, (guild_events, pending) in by_guild.items():
        ctx = load_context(conn, guild_id, rules, max_depth=max_depth)
        if not ctx.rules.triggers:
            tally.events += len(guild_events) + len(pending)
            out.unstored.extend(pending)
            continue
        changes, done, stored = _run_batch(conn, ctx, guild_events, members_of([*guild_events, *pending]), pending)
        out.changes.append(changes)
        out.stored.extend(stored)
        tally.events += done.events
        tally.derived += done.derived
        tally.postings += done.postings
        tally.milestones.extend(done.milestones)
        tally.level_ups.extend(done.level_ups)
    return out


def process(conn: Connection, events: Sequence[Event], *, rules: RuleCache[Any], clock: Clock | None = None,
            max_depth: int = MAX_DEPTH) -> ProcessResult:
    """Evaluate newly inserted events and write what they earn, inside the caller's transaction, for
    callers outside the pipeline (the ingest pipeline and the voice timer lock, evaluate and write
    in ``services.ingest``): lock the members (one round trip), :func:`evaluate`, write."""
    del clock  # decisions use each event's own time; kept for a uniform signature
    t0 = time.perf_counter()
    pairs = touched.members_of(events)
    if pairs:
        ledger_store.lock_member_pairs(conn, pairs)
    done = evaluate(conn, events, rules=rules, max_depth=max_depth)
    outbox = [i for changes in done.changes for i in write(conn, changes)]
    tally = done.tally
    elapsed = (time.perf_counter() - t0) * 1000
    return ProcessResult(events=tally.events, derived=tally.derived, postings=tally.postings,
                         milestones=len(tally.milestones), outbox_ids=outbox, level_ups=len(tally.level_ups),
                         elapsed_ms=elapsed)


def _run_batch(conn: Connection, ctx: Context, events: Sequence[Event], users: set[int],
               pending: Sequence[Event] = ()) -> tuple[ChangeSet, Tally, list[Event]]:
    """One guild's events (and derived ones not stored yet): plan, load (one round trip), run in memory
    (the caller writes the changes). Also returns the pending events the changes store, with their ids."""
    def body(grow: int) -> tuple[ChangeSet, Tally, list[Event]]:
        done = Tally()
        query = facts_needed(ctx, events, members=users, unstored=pending)
        if grow > 1:
            query = replace(query, tx_ids=query.tx_ids * grow, event_ids=query.event_ids * grow + 16)
        snapshot = loader.load(conn, query)
        stored = _to_store(pending, snapshot)
        state = state_for(ctx, snapshot, observed=events)
        loop.run(ctx, state, [*events, *stored], tally=done)
        state.changes.derived[:0] = stored
        return state.changes, done, stored
    result: tuple[ChangeSet, Tally, list[Event]] = _with_ids(conn, body)
    return result


def _to_store(pending: Sequence[Event], snapshot: Snapshot) -> list[Event]:
    """The derived events to append, as the lake would keep them: the first of each key, none it holds
    already; each takes one of the first reserved lake ids. The lake does not hold them yet, so the
    snapshot's lifetime totals leave them out already (``state_for`` takes off only the stored events)."""
    seen = set(snapshot.derived_keys)
    fresh = []
    for e in pending:
        if e.source_event_id not in seen:
            seen.add(e.source_event_id)
            fresh.append(e)
    ids = snapshot.event_ids
    if len(ids) < len(fresh):
        raise IdsExhausted("lake ids")
    stored = [replace(e, id=i) for e, i in zip(fresh, ids, strict=False)]
    del ids[:len(stored)]
    return stored


def _with_ids(conn: Connection, body: Any) -> Any:
    """Run ``body(grow)``; should the reserved ids not suffice (a rare, busy message), reserve 8x as many.

    The ids run out during the pure run, before anything is written: nothing to undo (the unused
    reserved ids are a gap in the sequence, as a rolled-back insert leaves one).
    """
    for grow in (1, 8, 64):
        try:
            return body(grow)
        except IdsExhausted:
            log.info("reserved ids ran out; running the batch again with more", extra={"grow": grow})
    return body(1024)


# ---------------------------------------------------------------------------------------------------------
# Manual actions: the same plan → load → run → write path as earned credit


@dataclass(frozen=True)
class ManualResult:
    """What a manual action changed, through the engine (level-ups, milestones, outbox rows it caused)."""

    changes: ChangeSet
    tally: Tally
    outbox_ids: list[int]


def _cause(guild_id: int, kind: str, key: str, user_id: int | None, at: Any, payload: dict[str, Any]) -> Event:
    """The action as an event the loop can reason about (never written to the lake: ``id`` None)."""
    return Event(SYNAPSE, key, kind, guild_id, user_id, None, at, payload)


def _manual(conn: Connection, guild_id: int, users: Iterable[int], cause: Event, rules: RuleCache[Any] | None,
            announce: bool, extra_postings: int, step: Any, posting_keys: Sequence[str] = ()) -> ManualResult:
    """Plan, load, run ``step(ctx, state)``, write: one manual action in the caller's transaction."""
    ctx = load_context(conn, guild_id, rules if rules is not None else rule_cache())
    members = sorted(set(users))
    ledger_store.lock_members(conn, guild_id, members)   # reentrant: a caller may hold them already

    def body(grow: int) -> ManualResult:
        query = facts_needed(ctx, [cause], members=members, extra_postings=extra_postings,
                             extra_events=2 * len(members) + 16)
        # The action's own keys may be posted already (skipped, as ever); a milestone granted by hand
        # may have its ``milestone_earned`` event in the lake from an earlier grant.
        query = replace(query, keys=(*query.keys, *posting_keys), milestone_events=True,
                        tx_ids=query.tx_ids * grow, event_ids=query.event_ids * grow)
        state = state_for(ctx, loader.load(conn, query))
        tally = step(ctx, state)
        changes = state.changes if announce else state.changes.without_announcements()
        return ManualResult(changes, tally, write(conn, changes))
    result: ManualResult = _with_ids(conn, body)
    return result


def post_by_hand(conn: Connection, guild_id: int, postings: Sequence[Posting], *, kind: str, key: str,
                 at: Any, rules: RuleCache[Any] | None = None, announce: bool = True,
                 actor_id: int | None = None) -> ManualResult:
    """Post manual postings (an award, an import) as earned credit would be: level-ups (``level_up``
    events, level roles, announcements), milestone checks and their rewards, in the caller's transaction.

    ``kind``/``key`` name the action (``admin_award``/``award:{request}``) for derived events'
    ``cause``; ``announce=False`` writes no ``announce`` outbox rows (role changes still apply). A
    posting whose key is in the ledger already is skipped, as ever; one that would overdraw a
    wallet raises ``InsufficientBalance`` before anything is written.
    """
    users = sorted({p.user_id for p in postings})
    cause = _cause(guild_id, kind, key, users[0] if len(users) == 1 else None, at,
                   {} if actor_id is None else {"actor_id": str(actor_id)})
    return _manual(conn, guild_id, users, cause, rules, announce, len(postings),
                   lambda ctx, state: loop.apply_postings(ctx, state, postings, cause, check_milestones=users),
                   [p.idempotency_key for p in postings])


def grant_by_hand(conn: Connection, guild_id: int, user_ids: Sequence[int], milestone: MilestoneRecord, *,
                  source: str, key: str, at: Any, granted_by: int | None = None,
                  rules: RuleCache[Any] | None = None, announce: bool = True) -> ManualResult:
    """Grant a milestone by hand (``source`` admin | retro) as earning it would: rewards paid (and the
    level-ups they cause), role rewards, ``milestone_earned`` and what it triggers. Members who have
    it already are skipped (``tally.milestones`` lists those granted now)."""
    cause = _cause(guild_id, "milestone_grant", key, user_ids[0] if len(user_ids) == 1 else None, at, {})

    def step(ctx: Context, state: MemoryState) -> Tally:
        tally = Tally()
        for uid in user_ids:
            loop.grant_by_hand(ctx, state, uid, [milestone], cause, source=source, granted_by=granted_by,
                               tally=tally)
        return tally
    return _manual(conn, guild_id, user_ids, cause, rules, announce, len(milestone.spec.rewards) * len(user_ids),
                   step)


def facts_of(conn: Connection, ctx: Context, guild_id: int, members: Iterable[int], at: Any) -> MemoryState:
    """The state of these members at ``at`` (for questions outside a run: who meets a milestone now?)."""
    probe = _cause(guild_id, "probe", "probe", None, at, {})
    query = replace(facts_needed(ctx, [probe], members=members), tx_ids=0, event_ids=0)
    return state_for(ctx, loader.load(conn, query), record=False)
