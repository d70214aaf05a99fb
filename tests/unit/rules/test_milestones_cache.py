"""Milestone criteria (counts, sums, levels, streaks, all/any) and the per-worker rule cache."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synapse.errors import ValidationFailed
from synapse.milestones.criteria import MilestoneRecord, compile_milestones, due
from synapse.milestones.model import validate_milestone
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message, voice_tick
from tests.unit.rules.support import G, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)


def _milestone(criteria: dict[str, object], key: str = "m") -> list[MilestoneRecord]:
    return [MilestoneRecord(1, validate_milestone({"key": key, "name": key, "criteria": criteria}))]


def test_counts_sums_levels_and_composition() -> None:
    """Event counts, voice minutes, levels on the MEE6 curve and all/any combine as written."""
    st = state(balances={(1, "xp"): 155})            # level 1 (100) but not 2 (255)
    for i in range(3):
        st.observe(message(G, 1, i, T0 + timedelta(minutes=i)))
    for i in range(90):
        st.observe(voice_tick(G, 1, T0 + timedelta(minutes=i)))
    checks = {
        "three": {"type": "event_count", "event": "message_create", "at_least": 3},
        "four": {"type": "event_count", "event": "message_create", "at_least": 4},
        "hour-voice": {"type": "event_sum", "event": "voice_tick", "field": "minutes", "at_least": 60},
        "level-1": {"type": "level", "at_least": 1},
        "level-2": {"type": "level", "at_least": 2},
        "all": {"type": "all", "criteria": [{"type": "level", "at_least": 1},
                                            {"type": "event_count", "event": "message_create", "at_least": 4}]},
        "any": {"type": "any", "criteria": [{"type": "level", "at_least": 2},
                                            {"type": "event_count", "event": "message_create", "at_least": 3}]},
    }
    got = {k for k, c in checks.items() if due(compile_milestones(_milestone(c, k)), st, 1, T0)}
    assert got == {"three", "hour-voice", "level-1", "any"}


def test_streak_of_active_days_and_earned_once() -> None:
    """Active 3 days in a row earns a 3-day streak, not a 4-day one; an earned milestone is not due again."""
    st = state()
    for d in range(3):
        st.observe(message(G, 1, d, T0 - timedelta(days=d)))
    three = compile_milestones(_milestone({"type": "streak", "days": 3}, "s3"))
    four = compile_milestones(_milestone({"type": "streak", "days": 4}, "s4"))
    assert due(three, st, 1, T0) and not due(four, st, 1, T0)
    st.grant(three[0].record, 1, T0, None)
    assert due(three, st, 1, T0) == []


def test_invalid_milestone_lists_every_error() -> None:
    """A bad key and an unknown criterion type are both reported."""
    with pytest.raises(ValidationFailed) as info:
        validate_milestone({"key": "Bad Key", "name": "x", "criteria": {"type": "karma", "at_least": 1}})
    assert {e.path.split(".")[0] for e in info.value.errors} == {"key", "criteria"}


def test_rule_cache_reloads_only_when_the_fingerprint_moves() -> None:
    """Same version: cached; a new version: loaded again; guilds are independent."""
    cache: RuleCache[str] = RuleCache()
    loads: list[str] = []

    def loader(value: str):  # type: ignore[no-untyped-def]
        return lambda: loads.append(value) or value

    assert cache.get(1, (1,), loader("a")) == "a"
    assert cache.get(1, (1,), loader("b")) == "a"
    assert cache.get(1, (2,), loader("c")) == "c"
    assert cache.get(2, (1,), loader("d")) == "d"
    assert loads == ["a", "c", "d"]
