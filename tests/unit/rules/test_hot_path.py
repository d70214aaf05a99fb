"""The backtest hot path's shortcuts decide exactly what the general code decides."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synapse.eventlake.events import DISCORD, Actor, Event
from synapse.ledger.model import LevelUp
from synapse.ledger.posting import rule_key
from synapse.processing.backtest import backtest
from synapse.processing.loop import level_up_event
from synapse.rules.compile import RuleRecord
from synapse.rules.defaults import default_rules
from synapse.rules.engine import decide, evaluate
from synapse.rules.operators import OPERATORS, missing
from synapse.rules.simulate import simulate
from tests.unit.rules.support import G, default_context, ruleset, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
VALUES = st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.just(float("nan")), st.booleans(), st.text(max_size=2),
                   st.none(), st.just("MISSING"))


@given(op=st.sampled_from(["<", "<=", ">", ">="]), actual=VALUES, expected=st.one_of(st.integers(-5, 5),
                                                                                       st.floats(-5, 5)))
def test_numeric_payload_conditions_agree_with_the_operator_registry(op: str, actual: Any, expected: Any) -> None:
    """The compiled numeric comparison holds exactly when the registry's operator does (bools, text, missing)."""
    rules = ruleset({"name": "n", "trigger": {"event": "message_create"},
                     "conditions": [{"type": "payload", "field": "length", "op": op, "value": expected}],
                     "effects": [{"type": "credit", "currency": "gold", "amount": 1}]})
    payload = {} if actual == "MISSING" else {"length": actual}
    event = Event(DISCORD, "message_create:1", "message_create", G, 7, 501, T0, payload, Actor(name="m7"), 1)
    held = bool(evaluate(rules, event, state(), explain=False).postings)
    registry = OPERATORS[op](payload.get("length", missing()), expected)
    assert held == registry



def test_rule_posting_keys_are_the_ledgers_rule_keys() -> None:
    """The inlined idempotency key is ``ledger.posting.rule_key``."""
    rules = ruleset({"name": "n", "trigger": {"event": "message_create"},
                     "effects": [{"type": "credit", "currency": "gold", "amount": 1}]})
    event = Event(DISCORD, "message_create:1", "message_create", G, 7, 501, T0, {}, Actor(name="m7"), 42)
    [p] = evaluate(rules, event, state(), explain=False).postings
    assert p.idempotency_key == rule_key(rule_id=1, event_id=42, effect_index=0)


def test_explained_and_fast_evaluation_decide_the_same() -> None:
    """``explain=False`` (backtests) and ``explain=True`` give the same decisions on a simulated day."""
    ctx, mem = default_context(), state()
    nothing = 0
    for i, event in enumerate(simulate(G, hours=6, members=20)):
        event = Event(event.source_system, event.source_event_id, event.event_type, event.guild_id, event.user_id,
                      event.channel_id, event.occurred_at, event.payload, event.actor, i + 1)
        fast = evaluate(ctx.rules, event, mem, explain=False)
        slow = evaluate(ctx.rules, event, mem, explain=True)
        assert (fast.postings, fast.milestone_checks, fast.announcements, fast.role_changes, fast.fires) == \
               (slow.postings, slow.milestone_checks, slow.announcements, slow.role_changes, slow.fires)
        # ``decide`` (the runner's) builds nothing exactly when no rule matched.
        assert (decide(ctx.rules, event, mem) is None) == (not any(r.matched for r in slow.results))
        nothing += not slow.matched
        mem.observe(event)
        mem.post(fast.postings)
        mem.record_fires(fast.fires, event.occurred_at, event.id)
    assert nothing > 0   # the day has events no rule matches (cooldowns, self-reactions)


def test_a_backtest_in_slices_reports_progress_and_the_same_as_one_pass() -> None:
    """A backtest in slices of ``every`` events reports what one pass does, with progress in events run."""
    ctx = default_context()
    records = [RuleRecord(i + 1, 1, s) for i, s in enumerate(default_rules())]
    day = list(simulate(G, start=T0, hours=6, members=40, seed=3))
    stored = [replace(level_up_event(LevelUp(G, e.user_id, "xp", 0, 1, 100, e.occurred_at, i), e), id=None)
              for i, e in enumerate(day[::25]) if e.user_id is not None]
    # a first slice of stored derived events only: it runs nothing and reports nothing
    history = [*stored[:97], *sorted([*day, *stored[97:]], key=lambda e: e.occurred_at)]
    seen: list[int] = []
    sliced = backtest(history, rules=records, currencies=ctx.currencies, milestones=ctx.milestones,
                      progress=seen.append, every=97)
    whole = backtest(day, rules=records, currencies=ctx.currencies, milestones=ctx.milestones)
    assert len(stored) > 97 and sliced.as_dict() == whole.as_dict()
    assert sliced.events == len(day) and sliced.level_ups
    assert seen[0] > 0 and all(a < b for a, b in pairwise(seen)) and seen[-1] == len(day)
    with pytest.raises(ValueError, match=r"every .* must be at least 1, not 0"):
        backtest(history, rules=records, currencies=ctx.currencies, every=0)
