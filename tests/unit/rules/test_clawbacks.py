"""Clawbacks in the pure loop: the state remembers the credits of source events, a clawback takes them back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from synapse.eventlake.events import DISCORD, Actor, Event
from synapse.ledger.model import Kind, Posting
from synapse.processing import loop
from synapse.processing.state import IdsExhausted
from synapse.rules.facts import PriorCredit
from synapse.rules.simulate import message, reaction
from tests.unit.rules.support import G, default_context, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)


def _credit(user_id: int, amount: int, key: str, event_id: int | None, *, kind: Kind = Kind.rule,
            rule_id: int | None = 1) -> Posting:
    return Posting(G, user_id, "xp", amount, kind, key, T0, rule_id=rule_id, event_id=event_id)


def test_the_state_remembers_only_the_rule_credits_of_the_source_event_just_observed() -> None:
    """Seeded candidates stay; of the credits posted after a source event, only its positive rule credits count."""
    st = state(balances={(7, "xp"): 100})
    seeded = PriorCredit(7, "xp", 20, "rule:1:5:0", T0 - timedelta(minutes=1))
    st.seed_prior(DISCORD, "message_create:5", seeded)
    st.observe(message(G, 7, 6, T0, event_id=6))
    st.post([_credit(7, 15, "rule:1:6:0", 6), _credit(7, 4, "rule:1:6:1", None),           # this event's
             _credit(7, 9, "rule:1:99:0", 99),                                              # another event's
             _credit(7, 30, "award:a", 6, kind=Kind.admin_award, rule_id=None),          # not a rule credit
             _credit(7, -5, "rule:2:6:0", 6)])                                              # a debit
    assert st.prior_credits(DISCORD, "message_create:6") == [PriorCredit(7, "xp", 15, "rule:1:6:0", T0),
                                                              PriorCredit(7, "xp", 4, "rule:1:6:1", T0)]
    assert st.prior_credits(DISCORD, "message_create:5") == [seeded]
    assert st.prior_credits("synapse", "message_create:6") == []
    st.observe(message(G, 7, 7, T0, event_id=7))
    st.observe(Event(DISCORD, "member_join:7", "member_join", G, 7, None, T0, {}, Actor(name="m7"), 8))
    st.post([_credit(7, 3, "rule:1:8:0", 8)])                          # after a non-source event: not remembered
    assert st.prior_credits(DISCORD, "message_create:7") == []


def test_a_deleted_message_and_a_removed_reaction_give_their_credits_back() -> None:
    """The default pack: a message deleted within 10 minutes takes its XP back, a removed reaction its star."""
    ctx = default_context()
    st = state()
    events = [message(G, 7, 1, T0, event_id=1), reaction(G, 8, 1, 7, T0 + timedelta(seconds=5), event_id=2),
              reaction(G, 8, 1, 7, T0 + timedelta(minutes=30), removed=True, event_id=3),
              Event(DISCORD, "message_delete:1", "message_delete", G, 7, 501, T0 + timedelta(minutes=9), {},
                    Actor(name="m7"), 4)]
    earned = loop.run(ctx, st, events[:2])
    assert earned.deltas[(7, "xp")] > 0 and earned.deltas[(7, "stars")] == 1
    taken = loop.run(ctx, st, events[2:])
    assert taken.deltas == {(7, "stars"): -1, (7, "xp"): -earned.deltas[(7, "xp")]}
    assert st.balance(7, "xp") == st.balance(7, "stars") == 0


def test_the_run_counts_the_events_it_observed_when_it_stops_on_an_error() -> None:
    """A run that fails part-way (no transaction ids left) has counted every event it observed, the failing one too."""
    ctx = default_context()
    st = state(tx_ids=[])
    tally = loop.Tally()
    joins = (Event(DISCORD, f"member_join:{u}", "member_join", G, u, None, T0, {}, Actor(name=f"m{u}"), u)
             for u in (1, 2, 3))
    with pytest.raises(IdsExhausted):
        loop.run(ctx, st, joins, tally=tally)     # the first join's welcome gift needs a transaction id
    assert tally.events == 1 and tally.postings == 0
