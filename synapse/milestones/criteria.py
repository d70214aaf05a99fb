"""Milestone criteria compiled into closures over the rules engine's ``Facts`` port (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from synapse.ledger.curves import DEFAULT_CURVE, LevelCurve
from synapse.milestones import model as m
from synapse.rules.facts import Facts

Check = Callable[[Facts, int, datetime], bool]


@dataclass(frozen=True)
class MilestoneRecord:
    """A stored milestone: its id and validated definition."""

    milestone_id: int
    spec: m.MilestoneSpec


@dataclass(frozen=True, slots=True)
class CompiledMilestone:
    record: MilestoneRecord
    check: Check
    key: str


def _criterion(c: Any, curves: Mapping[str, LevelCurve]) -> Check:
    if isinstance(c, m.BalanceCrit):
        cur, need = c.currency, c.at_least
        return lambda f, uid, at: f.balance(uid, cur) >= need
    if isinstance(c, m.LevelCrit):
        curve, cur, need = curves.get(c.currency, DEFAULT_CURVE), c.currency, c.at_least
        threshold = curve.total_for(need)
        return lambda f, uid, at: f.balance(uid, cur) >= threshold
    if isinstance(c, m.EventCountCrit):
        ev, need, days = c.event, c.at_least, c.within_days
        if days is None:
            return lambda f, uid, at: f.event_count(uid, ev, None) >= need
        span = timedelta(days=days)
        return lambda f, uid, at: f.event_count(uid, ev, at - span) >= need
    if isinstance(c, m.EventSumCrit):
        ev, name, need, sdays = c.event, c.field, c.at_least, c.within_days
        sspan = None if sdays is None else timedelta(days=sdays)
        return lambda f, uid, at: f.event_sum(uid, ev, name, None if sspan is None else at - sspan) >= need
    if isinstance(c, m.StreakCrit):
        streak = c.days

        def streak_check(f: Facts, uid: int, at: datetime) -> bool:
            today = at.date()
            first = today - timedelta(days=streak - 1)
            return len(f.active_days(uid, first, today)) >= streak
        return streak_check
    if isinstance(c, m.AllCrit):
        parts = [_criterion(x, curves) for x in c.criteria]
        return lambda f, uid, at: all(p(f, uid, at) for p in parts)
    if isinstance(c, m.AnyCrit):
        anyparts = [_criterion(x, curves) for x in c.criteria]
        return lambda f, uid, at: any(p(f, uid, at) for p in anyparts)
    raise TypeError(f"unknown criterion {type(c).__name__}")  # pragma: no cover


def walk_criteria(c: Any) -> Iterable[Any]:
    """``c`` and every criterion nested in it (``all``/``any``), depth first."""
    yield c
    if isinstance(c, m.AllCrit | m.AnyCrit):
        for x in c.criteria:
            yield from walk_criteria(x)


def compile_milestones(records: Iterable[MilestoneRecord], *,
                       curves: Mapping[str, LevelCurve] | None = None) -> tuple[CompiledMilestone, ...]:
    cv = curves or {}
    return tuple(CompiledMilestone(r, _criterion(r.spec.criteria, cv), r.spec.key) for r in records if r.spec.enabled)


def unearned_of(milestones: Sequence[CompiledMilestone], facts: Facts, user_id: int) -> list[CompiledMilestone]:
    """The milestones the member has not earned yet, in order."""
    earned = facts.earned_milestones(user_id)
    return [ms for ms in milestones if ms.key not in earned]


def due(milestones: Sequence[CompiledMilestone], facts: Facts, user_id: int, at: datetime) -> list[CompiledMilestone]:
    """Milestones the member meets now and has not earned yet (earned ones are never re-checked)."""
    if not milestones:
        return []
    return [ms for ms in unearned_of(milestones, facts, user_id) if ms.check(facts, user_id, at)]
