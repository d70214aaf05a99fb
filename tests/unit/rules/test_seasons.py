"""Seasons in a backtest's state: each event's season by its time, and a close replayed as the roll made it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from synapse.ledger.model import Kind, Season
from synapse.processing.backtest import closed_between, replay
from synapse.processing.loop import Context
from synapse.rules.simulate import message
from tests.unit.rules.support import G, currencies, ruleset, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
DAY = timedelta(days=1)
SPRING, SUMMER = Season(1, "Spring", T0, T0 + DAY), Season(2, "Summer", T0 + 2 * DAY)


def test_each_event_falls_in_the_season_of_its_time() -> None:
    """With the guild's seasons, the season of an event's time (none before the first or in a gap between two);
    without them, the active season's start for every event."""
    known = state(seasons=[SUMMER, SPRING])
    assert [known.season_start(T0 + h * timedelta(hours=12)) for h in (-1, 0, 1, 2, 3, 4, 6)] == [
        None, T0, T0, None, None, T0 + 2 * DAY, T0 + 2 * DAY]
    assert state(season_start=T0 + 2 * DAY).season_start(T0) == T0 + 2 * DAY


def test_a_close_resets_the_seasonal_wallets_between_the_events_before_and_after_it() -> None:
    """The events before a close credit the old season, the close takes each seasonal wallet back to zero
    (``season_reset`` postings at its time), and the events after it credit from zero; other currencies stay."""
    cur = {**currencies(), "xp": replace(currencies()["xp"], seasonal=True)}
    rules = ruleset({"name": "r", "trigger": {"event": "message_create"},
                     "effects": [{"type": "credit", "currency": "xp", "amount": 10},
                                 {"type": "credit", "currency": "gold", "amount": 1}]})
    ctx = Context(rules, cur)
    mem = state(record=True, seasons=[SPRING, SUMMER])
    events = [message(G, 7, i, T0 + DAY * (i - 1) + timedelta(hours=1), event_id=i) for i in range(1, 4)]
    tally = replay(ctx, mem, events, closes=closed_between(mem.seasons, None, None))
    resets = [p for p in mem.changes.postings if p.posting.kind is Kind.season_reset]
    assert [(p.posting.amount, p.posting.occurred_at, p.posting.idempotency_key, p.balance_after) for p in resets] == [
        (-10, T0 + DAY, "season_reset:1:xp:7", 0)]
    assert mem.balance(7, "xp") == 20 and mem.balance(7, "gold") == 3
    assert tally.deltas[(7, "xp")] == 20 and tally.postings == 7
    assert closed_between(mem.seasons, T0 + 2 * DAY, None) == []
    with pytest.raises(ValueError, match="has not closed"):
        replay(ctx, mem, [], closes=[SUMMER])
