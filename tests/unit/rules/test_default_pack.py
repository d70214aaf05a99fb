"""The default pack over a simulated day of a small community pays what a MEE6 user expects."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from synapse.ledger.curves import DEFAULT_CURVE
from synapse.processing.loop import run
from synapse.rules.defaults import default_rules
from synapse.rules.simulate import simulate
from tests.unit.rules.support import G, default_context, state

MESSAGE_XP_RULE = 1  # first rule of the pack


def test_a_simulated_day_levels_like_mee6() -> None:
    """15–25 XP per message at most once a minute, short messages and bots aside; levels on the MEE6 curve."""
    assert default_rules()[0].name == "Message XP"
    events = simulate(G, members=30, hours=24, seed=7)
    st = state()
    st.keep_transactions = True
    tally = run(default_context(), st, events)

    # What MEE6 would do: per member, in time order, credit a message if 60 s passed since the last credited one.
    expected: dict[int, int] = defaultdict(int)
    last: dict[int, object] = {}
    for e in events:
        if e.event_type != "message_create" or e.payload["length"] < 5 or e.user_id is None:
            continue
        prev = last.get(e.user_id)
        if prev is None or e.occurred_at - prev >= timedelta(seconds=60):  # type: ignore[operator]
            expected[e.user_id] += 1
            last[e.user_id] = e.occurred_at
    credits: dict[int, list[int]] = defaultdict(list)
    for posted in st.transactions:
        p = posted.posting
        if p.rule_id == MESSAGE_XP_RULE:
            credits[p.user_id].append(p.amount)
    assert {u: len(a) for u, a in credits.items()} == dict(expected)
    amounts = [a for per in credits.values() for a in per]
    assert min(amounts) >= 15 and max(amounts) <= 25
    assert 19 <= sum(amounts) / len(amounts) <= 21          # MEE6 averages 20 XP a message
    # Levels follow the MEE6 curve; every level crossed was announced once in the channel.
    announced = [u for u in tally.level_ups if u.currency == "xp"]
    for (user, currency), balance in st.balances.items():
        if currency != "xp":
            continue
        level = DEFAULT_CURVE.level_for(balance)
        assert sum(u.new_level - u.old_level for u in announced if u.user_id == user) == level
    level_up_posts = [o for o in st.outbox if o.payload.get("reason") == "level_up"]
    assert len(level_up_posts) == len(announced)
    top = max(v for (u, c), v in st.balances.items() if c == "xp")
    assert DEFAULT_CURVE.level_for(top) >= 5               # the day's most active member gets somewhere
    assert ("first-message" in {k for _, k in tally.milestones})
