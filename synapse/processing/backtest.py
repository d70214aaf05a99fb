"""Backtests: run rules over past events in memory and report what they would have paid (pure).

The run uses the same loop as live processing (``processing.loop.run``) over a ``MemoryState``, so a
backtest of the live rules pays exactly what live processing paid for the same events,
and a draft's report can be compared with the live rules' as a diff. Nothing is written
anywhere; the service that loads the events opens a read-only transaction on top.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from synapse.eventlake.events import SYNAPSE, Event
from synapse.ledger.model import Currency
from synapse.milestones.criteria import CompiledMilestone
from synapse.processing.actions import Action, apply, when
from synapse.processing.loop import Context, Tally, Unearned, run
from synapse.processing.state import MemoryState
from synapse.rules.compile import LevelRoleTable, RuleRecord, compile_rules
from synapse.rules.decisions import LEVELUP_DEFAULT, LevelUpRoute
from synapse.rules.model import RuleSpec

# Derived events the engine writes itself: a backtest regenerates them, so it skips stored ones.
ENGINE_DERIVED = frozenset({"level_up", "milestone_earned"})


@dataclass(frozen=True)
class Distribution:
    members: int
    total: int
    p50: int
    p90: int
    gini: float


@dataclass
class BacktestReport:
    events: int = 0                      # input events run (the derived ones it caused: ``derived``)
    derived: int = 0
    postings: int = 0
    deltas: dict[tuple[int, str], int] = field(default_factory=dict)
    level_ups: list[tuple[int, str, int, int]] = field(default_factory=list)   # member, currency, old, new
    milestones: list[tuple[int, str]] = field(default_factory=list)
    role_changes: list[tuple[int, int, str]] = field(default_factory=list)
    announcements: int = 0
    distribution: dict[str, Distribution] = field(default_factory=dict)

    def total(self, currency: str) -> int:
        return sum(v for (_, c), v in self.deltas.items() if c == currency)

    def member_deltas(self, currency: str) -> dict[int, int]:
        return {u: v for (u, c), v in self.deltas.items() if c == currency and v}

    def as_dict(self) -> dict[str, Any]:
        return {"events": self.events, "derived": self.derived, "postings": self.postings,
                "totals": {c: self.total(c) for c in sorted({c for _, c in self.deltas})},
                "members": [{"user_id": str(u), "currency": c, "delta": v}
                            for (u, c), v in sorted(self.deltas.items())],
                "level_ups": [{"user_id": str(u), "currency": c, "from": a, "to": b} for u, c, a, b in self.level_ups],
                "milestones": [{"user_id": str(u), "milestone": k} for u, k in self.milestones],
                "role_changes": [{"user_id": str(u), "role_id": str(r), "action": a} for u, r, a in self.role_changes],
                "announcements": self.announcements,
                "distribution": {c: d.__dict__ for c, d in self.distribution.items()}}


@dataclass(frozen=True)
class BacktestDiff:
    """Draft minus live."""

    totals: dict[str, int]
    members: dict[tuple[int, str], int]          # only members whose delta changed
    level_ups: int
    milestones: int
    role_changes: int
    announcements: int

    def as_dict(self) -> dict[str, Any]:
        return {"totals": self.totals, "level_ups": self.level_ups, "milestones": self.milestones,
                "role_changes": self.role_changes, "announcements": self.announcements,
                "members": [{"user_id": str(u), "currency": c, "change": v}
                            for (u, c), v in sorted(self.members.items())]}


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0
    rank = max(1, -(-int(q * 100) * len(sorted_values) // 100))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def gini(values: Sequence[int]) -> float:
    """Gini coefficient of non-negative amounts: 0 everyone equal, → 1 one member takes all."""
    xs = sorted(v for v in values if v > 0)
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


def distribution(earned: Mapping[tuple[int, str], int]) -> dict[str, Distribution]:
    by_currency: dict[str, list[int]] = {}
    for (_, cur), amount in earned.items():
        if amount > 0:
            by_currency.setdefault(cur, []).append(amount)
    out = {}
    for cur, amounts in sorted(by_currency.items()):
        amounts.sort()
        out[cur] = Distribution(len(amounts), sum(amounts), percentile(amounts, 0.5), percentile(amounts, 0.9),
                                gini(amounts))
    return out


def overlay(live: Sequence[RuleRecord], draft: Sequence[RuleSpec], *, only_draft: bool = False) -> list[RuleRecord]:
    """Draft rules with an ``id`` replace that live rule; others are added (negative ids); or the draft alone."""
    by_id = {} if only_draft else {r.rule_id: r for r in live}
    new_id = -1
    for spec in draft:
        if spec.id is not None:
            version = by_id[spec.id].version + 1 if spec.id in by_id else 1
            by_id[spec.id] = RuleRecord(spec.id, version, spec)
        else:
            by_id[new_id] = RuleRecord(new_id, 1, spec)
            new_id -= 1
    return list(by_id.values())


def backtest(events: Iterable[Event], *, rules: Sequence[RuleRecord], currencies: Mapping[str, Currency],
             milestones: Sequence[CompiledMilestone] = (), disabled_modules: Iterable[str] = (),
             state: Callable[[], MemoryState] | None = None, max_depth: int = 3,
             progress: Callable[[int], None] | None = None, every: int = 10_000,
             levelup: LevelUpRoute = LEVELUP_DEFAULT, texts: Mapping[str, str] | None = None,
             level_roles: LevelRoleTable | None = None, actions: Sequence[Action] = ()) -> BacktestReport:
    """Run ``rules`` over ``events`` (stored engine-derived events are skipped and regenerated).

    ``actions``: the guild's actions in the range that are no lake events (season rolls, manual postings,
    milestones granted by hand: ``processing.actions``), replayed at their times (``replay``).

    ``levelup``: the guild's level-up setting (with ``off``, level-up announcements are not counted);
    ``texts`` and ``level_roles``: the guild's template settings and level role table, compiled as
    live compiles them (``compile_rules``), so a backtest reports the level roles live would assign.
    ``progress(n)``: called after each slice of ``every`` input events that ran any, with the number of
    events run so far (stored derived events count towards the slice, not towards ``n``).
    """
    if every < 1:
        raise ValueError(f"every (events between progress reports) must be at least 1, not {every}")
    # The loop allocates millions of short-lived, acyclic objects (events, postings) while the
    # state grows: the cyclic collector would rescan that growing heap again and again for nothing.
    # It stays off until ``_run`` has returned, so the state is freed by reference counting first
    # instead of being traversed once more by the first collection after the run.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run(events, rules=rules, currencies=currencies, milestones=milestones,
                    off=frozenset(disabled_modules), state=state, max_depth=max_depth, progress=progress,
                    every=every, levelup=levelup, texts=texts, level_roles=level_roles, actions=actions)
    finally:
        if was_enabled:
            gc.enable()


def context(rules: Sequence[RuleRecord], *, currencies: Mapping[str, Currency],
            milestones: Sequence[CompiledMilestone] = (), disabled_modules: Iterable[str] = (), max_depth: int = 3,
            levelup: LevelUpRoute = LEVELUP_DEFAULT, texts: Mapping[str, str] | None = None,
            level_roles: LevelRoleTable | None = None) -> Context:
    """The loop's context of a backtest of ``rules``, compiled as live compiles them (its ``needs`` are
    what the backtest's start state must hold: ``plan.facts_as_of``)."""
    off = frozenset(disabled_modules)
    compiled = compile_rules(rules, disabled_modules=off, max_depth=max_depth, texts=texts, level_roles=level_roles)
    return Context(compiled, currencies, tuple(milestones), milestones_enabled="milestones" not in off,
                   levelup=levelup)


def _run(events: Iterable[Event], *, rules: Sequence[RuleRecord], currencies: Mapping[str, Currency],
         milestones: Sequence[CompiledMilestone], off: frozenset[str], state: Callable[[], MemoryState] | None,
         max_depth: int, progress: Callable[[int], None] | None, every: int,
         levelup: LevelUpRoute, texts: Mapping[str, str] | None,
         level_roles: LevelRoleTable | None, actions: Sequence[Action]) -> BacktestReport:
    guild_id = next(iter(currencies.values())).guild_id if currencies else 0
    mem = state() if state is not None else MemoryState(guild_id, currencies=currencies)
    mem.keep_outbox = False
    mem.tune([r.spec for r in rules], [m.record.spec for m in milestones])
    ctx = context(rules, currencies=currencies, milestones=milestones, disabled_modules=off, max_depth=max_depth,
                  levelup=levelup, texts=texts, level_roles=level_roles)
    tally = Tally()
    unearned: Unearned = {}
    pending = _in_order(actions)
    seen = 0
    source = iter(events)
    # One ``run`` per slice, so progress can be told between slices while the loop itself makes no
    # per-event check or call for it; the memo of unearned milestones carries over from slice to slice.
    while batch := list(islice(source, every)):
        chunk = [e for e in batch if e.event_type not in ENGINE_DERIVED or e.source_system != SYNAPSE]
        if not chunk:
            continue
        _replay(ctx, mem, chunk, pending, tally, unearned)
        seen += len(chunk)
        if progress is not None:
            progress(seen)
    for _, action in pending:   # after the range's last event
        apply(ctx, mem, action, tally)
    return report(tally, events=seen)


def replay(ctx: Context, state: MemoryState, events: Iterable[Event], *, actions: Sequence[Action] = (),
           tally: Tally | None = None) -> Tally:
    """A stretch of history through the loop (``loop.run``) with the actions in it that are no lake events
    (``processing.actions``): each is applied before the first event at or after its time, those after the
    last event at the end. So a backtest across a season roll counts the events before it in the old season
    and those after in the new one, and one across an award levels the member up where live did."""
    t = tally if tally is not None else Tally()
    pending = _in_order(actions)
    _replay(ctx, state, events, pending, t, {})
    for _, action in pending:
        apply(ctx, state, action, t)
    return t


def _in_order(actions: Sequence[Action]) -> list[tuple[datetime, Action]]:
    """(time, action), in time order (the order given among actions at one time: the sort is stable)."""
    return sorted(((when(a), a) for a in actions), key=lambda timed: timed[0])


def _replay(ctx: Context, state: MemoryState, events: Iterable[Event], pending: list[tuple[datetime, Action]],
            t: Tally, unearned: Unearned) -> None:
    """``run`` over ``events``, applying the actions of ``pending`` (taken off it) as their times come."""
    if not pending:
        run(ctx, state, events, tally=t, unearned=unearned)
        return
    batch: list[Event] = []
    for event in events:
        if pending and event.occurred_at >= pending[0][0]:
            run(ctx, state, batch, tally=t, unearned=unearned)
            batch = []
            while pending and event.occurred_at >= pending[0][0]:
                apply(ctx, state, pending.pop(0)[1], t)
        batch.append(event)
    run(ctx, state, batch, tally=t, unearned=unearned)


def report(t: Tally, *, events: int) -> BacktestReport:
    """``events``: input events (derived ones are counted in ``derived``)."""
    return BacktestReport(
        events=events, derived=t.derived, postings=t.postings, deltas=dict(t.deltas),
        level_ups=[(u.user_id, u.currency, u.old_level, u.new_level) for u in t.level_ups],
        milestones=list(t.milestones), role_changes=list(t.role_changes), announcements=t.announcements,
        distribution=distribution(t.earned))


def diff(draft: BacktestReport, live: BacktestReport) -> BacktestDiff:
    currencies = sorted({c for _, c in draft.deltas} | {c for _, c in live.deltas})
    keys = draft.deltas.keys() | live.deltas.keys()
    members = {k: draft.deltas.get(k, 0) - live.deltas.get(k, 0) for k in keys}
    return BacktestDiff(
        totals={c: draft.total(c) - live.total(c) for c in currencies},
        members={k: v for k, v in members.items() if v},
        level_ups=len(draft.level_ups) - len(live.level_ups), milestones=len(draft.milestones) - len(live.milestones),
        role_changes=len(draft.role_changes) - len(live.role_changes),
        announcements=draft.announcements - live.announcements)
