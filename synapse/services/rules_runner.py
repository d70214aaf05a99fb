"""The processing service: new lake events → rules → ledger, milestones, outbox, derived events.

The ingest pipeline calls ``process`` inside its open transaction, right after
``lake_store.append`` returned the newly inserted events, and sends
``ProcessResult.outbox_ids`` after commit. See ``synapse/rules/README.md`` for the contract.

Member locks: a caller that already holds ``ledger_store.lock_members``'s locks for every member
``members_of(events)`` names passes ``members_locked=True`` (ingest and the voice timer do);
otherwise ``process`` takes them itself, in one round trip, before reading anything.

How a batch runs (``synapse.db.facts.BatchStore``): after the locks, a handful of set-based
queries prefetch what the rules can ask about the batch's members; every event is evaluated in
memory (the state updated as decisions are made, as the backtest's ``MemoryState`` does); derived
events, postings, milestones, cooldown fires and outbox rows are written in bulk at the end.
The locks make the prefetched state authoritative; the bulk posting still checks each
``balance_after`` it predicted, and on any disagreement (a writer that takes no member lock) the
batch is rolled back to a savepoint and processed statement by statement (``DbStore``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from synapse.clock import Clock
from synapse.db import ledger_store, rules_store
from synapse.db.facts import BatchStore, DbStore, Mispredicted
from synapse.errors import ErrorDetail, ValidationFailed
from synapse.eventlake.events import Event
from synapse.milestones.criteria import compile_milestones
from synapse.rules.cache import RuleCache
from synapse.rules.compile import compile_rules
from synapse.rules.decisions import LevelUpRoute
from synapse.rules.runner import Context, Tally, run

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
""" + rules_store.LEVELUP_SETTINGS.format(g="g.guild_id") + """
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
                                            row.currencies, max_depth, row.levelup_mode, row.levelup_channel_id)
    disabled = frozenset(row.disabled) if row is not None else frozenset()

    def load() -> Context:
        currencies = ledger_store.load_currencies(conn, guild_id)
        rules = compile_rules(rules_store.load_rules(conn, guild_id), disabled_modules=disabled,
                              max_depth=max_depth)
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
    """Every member an event's rules may credit or debit (locked before evaluating)."""
    out: set[int] = set()
    for e in events:
        if e.user_id is not None:
            out.add(e.user_id)
        for name in ("message_author_id", "reply_to_user_id"):
            value = e.payload.get(name)
            if value is not None:
                with contextlib.suppress(TypeError, ValueError):
                    out.add(int(value))
    return out


def process(conn: Connection, events: Sequence[Event], *, rules: RuleCache[Any], clock: Clock | None = None,
            max_depth: int = MAX_DEPTH, members_locked: bool = False) -> ProcessResult:
    """Evaluate newly inserted events and write what they earn, inside the caller's transaction.

    ``members_locked=True`` says the caller already holds ``ledger_store.lock_members``'s locks for
    every member ``members_of(events)`` names (the ingest pipeline and the voice timer take them
    before appending to the lake); otherwise they are taken here.
    """
    missing = [ErrorDetail(f"events[{i}].id", "not set: pass the events lake_store.append returned")
               for i, e in enumerate(events) if e.id is None]
    if missing:
        raise ValidationFailed("events must come from the lake", missing)
    del clock  # decisions use each event's own time; kept for the pipeline's uniform signature
    t0 = time.perf_counter()
    by_guild: dict[int, list[Event]] = {}
    for e in events:
        by_guild.setdefault(e.guild_id, []).append(e)
    tally = Tally()
    outbox: list[int] = []
    for guild_id, guild_events in by_guild.items():
        ctx = load_context(conn, guild_id, rules, max_depth=max_depth)
        if not ctx.rules.triggers:
            tally.events += len(guild_events)
            continue
        users = members_of(guild_events)
        if not members_locked:
            ledger_store.lock_members(conn, guild_id, users)
        done = _run_batch(conn, ctx, guild_id, guild_events, users)
        tally.events += done.events
        tally.derived += done.derived
        tally.postings += done.postings
        tally.milestones.extend(done.milestones)
        tally.level_ups.extend(done.level_ups)
        outbox.extend(done.outbox_ids)
    elapsed = (time.perf_counter() - t0) * 1000
    return ProcessResult(events=tally.events, derived=tally.derived, postings=tally.postings,
                         milestones=len(tally.milestones), outbox_ids=outbox, level_ups=len(tally.level_ups),
                         elapsed_ms=elapsed)


@dataclass
class _Done(Tally):
    outbox_ids: list[int] = field(default_factory=list)


def _run_batch(conn: Connection, ctx: Context, guild_id: int, events: Sequence[Event], users: set[int]) -> _Done:
    """One guild's events: prefetch, evaluate in memory, write in bulk (``BatchStore``); should the
    database disagree with what the batch predicted, roll it back and go statement by statement."""
    done = _Done()
    try:
        with conn.begin_nested():
            batch = BatchStore(conn, guild_id, currencies=ctx.currencies)
            batch.prefetch(events, users, ctx.rules, ctx.milestones if ctx.milestones_enabled else ())
            run(ctx, batch, events, tally=done)
            batch.finish()
            done.outbox_ids = batch.outbox_ids
            return done
    except Mispredicted as exc:
        log.warning("batch prediction failed, processing statement by statement: %s", exc,
                    extra={"guild_id": guild_id, "events": len(events)})
    done = _Done()
    store = DbStore(conn, guild_id)
    run(ctx, store, events, tally=done)
    done.outbox_ids = store.outbox_ids
    return done
