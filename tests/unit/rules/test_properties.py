"""Properties under any event order: determinism, caps never exceeded, cooldowns never violated."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from synapse.eventlake.events import Event
from synapse.processing.loop import Context, run
from synapse.processing.state import MemoryState
from synapse.rules.compile import RuleRecord, compile_rules
from synapse.rules.model import validate_rule
from synapse.rules.simulate import message, reaction
from tests.unit.rules.support import G, currencies, default_context

T0 = datetime(2025, 1, 13, tzinfo=UTC)  # a Monday

CAPPED = {"name": "capped", "trigger": {"event": "message_create"},
          "conditions": [{"type": "cooldown", "seconds": 60},
                         {"type": "cap", "currency": "xp", "amount": 70, "window": "hour"}],
          "effects": [{"type": "credit", "currency": "xp", "amount": {"random": [15, 25]}}]}

raw_messages = st.lists(
    st.tuples(st.integers(1, 3), st.integers(0, 3 * 3600)),  # (member, second of the morning)
    min_size=1, max_size=60)


def _events(raw: list[tuple[int, int]]) -> list[Event]:
    return [message(G, user, i + 1, T0 + timedelta(seconds=sec)) for i, (user, sec) in enumerate(raw)]


def _context() -> Context:
    rules = compile_rules([RuleRecord(1, 1, validate_rule(CAPPED))])
    return Context(rules, currencies())


@settings(max_examples=60, deadline=None)
@given(raw_messages, st.randoms(use_true_random=False))
def test_caps_and_cooldowns_hold_under_any_order(raw: list[tuple[int, int]], rnd: object) -> None:
    """Whatever order events arrive in: ≤ 70 XP per member per hour, no two credits < 60 s apart."""
    events = _events(raw)
    rnd.shuffle(events)  # type: ignore[attr-defined]
    state = MemoryState(G, currencies=currencies())
    state.keep_transactions = True
    run(_context(), state, events)
    per_hour: dict[tuple[int, datetime], int] = defaultdict(int)
    times: dict[int, list[datetime]] = defaultdict(list)
    for posted in state.transactions:
        p = posted.posting
        per_hour[(p.user_id, p.occurred_at.replace(minute=0, second=0))] += p.amount
        times[p.user_id].append(p.occurred_at)
    assert all(total <= 70 for total in per_hour.values())
    for fired in times.values():
        fired.sort()
        assert all(b - a >= timedelta(seconds=60) for a, b in itertools.pairwise(fired))


@settings(max_examples=30, deadline=None)
@given(raw_messages, st.lists(st.tuples(st.integers(1, 3), st.integers(1, 60), st.integers(0, 3 * 3600)),
                              max_size=40))
def test_processing_is_deterministic(raw: list[tuple[int, int]], raw_reactions: list[tuple[int, int, int]]) -> None:
    """The default pack over the same events twice gives the same balances, milestones and outbox."""
    events = _events(raw) + [reaction(G, r, m, 1 + m % 3, T0 + timedelta(seconds=s)) for r, m, s in raw_reactions]
    events.sort(key=lambda e: e.occurred_at)
    outcomes = []
    for _ in range(2):
        state = MemoryState(G, currencies=currencies())
        tally = run(default_context(), state, events)
        outcomes.append((state.balances, tally.milestones, [o.dedupe_key for o in state.outbox], tally.level_ups))
    assert outcomes[0] == outcomes[1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(0, 86400), st.booleans()),
                min_size=1, max_size=80), st.randoms(use_true_random=False))
def test_star_cap_and_one_per_reactor_under_any_order(raw: list[tuple[int, int, int, bool]], rnd: object) -> None:
    """Reactions in any order (removals too): one star per reactor per message, wallets never negative."""
    events: list[Event] = []
    for reactor, mid, sec, removed in raw:
        at = T0 + timedelta(seconds=sec)
        events.append(reaction(G, reactor + 10, mid, mid, at, emoji="a" if sec % 2 else "b"))
        if removed:
            events.append(reaction(G, reactor + 10, mid, mid, at + timedelta(seconds=5), removed=True,
                                   emoji="a" if sec % 2 else "b"))
    events = list({e.source_event_id: e for e in events}.values())  # the lake keeps each key once
    rnd.shuffle(events)  # type: ignore[attr-defined]
    state = MemoryState(G, currencies=currencies())
    state.keep_transactions = True
    run(default_context(), state, events)
    credited: dict[tuple[int, str], int] = defaultdict(int)
    for posted in state.transactions:
        p = posted.posting
        if p.kind == "rule" and p.currency == "stars":
            credited[(p.user_id, p.idempotency_key.split(":")[3] + ":" + p.idempotency_key.split(":")[4])] += 1
    assert all(n == 1 for n in credited.values())
    assert all(v >= 0 for v in state.balances.values())
