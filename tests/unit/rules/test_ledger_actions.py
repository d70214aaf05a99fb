"""What a backtest replays besides lake events: seasons by time, a close as its roll made it, manual postings
grouped into the actions that made them (and cut where a draft left less in a wallet), hand grants."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from synapse.ledger.model import Kind, Posting, Season
from synapse.processing.actions import ByHand, GrantedByHand, HandGrant, apply, ledger_actions
from synapse.processing.backtest import replay
from synapse.processing.loop import Context, Tally
from synapse.processing.state import MemoryState
from synapse.rules.simulate import message
from tests.unit.rules.support import G, currencies, ruleset, state

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
DAY = timedelta(days=1)
SPRING, SUMMER = Season(1, "Spring", T0, T0 + DAY), Season(2, "Summer", T0 + 2 * DAY)


def test_each_event_falls_in_the_season_of_its_time() -> None:
    """With the guild's seasons, each event's own (none before or between); without, the active one for all."""
    known = state(seasons=[SUMMER, SPRING])
    assert [known.season_start(T0 + h * timedelta(hours=12)) for h in (-1, 0, 1, 2, 3, 4, 6)] == [
        None, T0, T0, None, None, T0 + 2 * DAY, T0 + 2 * DAY]
    assert state(season_start=T0 + 2 * DAY).season_start(T0) == T0 + 2 * DAY


def test_a_close_resets_the_seasonal_wallets_between_the_events_before_and_after_it() -> None:
    """A close zeroes the seasonal wallets (``season_reset`` at its time) between the events before and after."""
    cur = {**currencies(), "xp": replace(currencies()["xp"], seasonal=True)}
    rules = ruleset({"name": "r", "trigger": {"event": "message_create"},
                     "effects": [{"type": "credit", "currency": "xp", "amount": 10},
                                 {"type": "credit", "currency": "gold", "amount": 1}]})
    ctx = Context(rules, cur)
    mem = state(record=True, seasons=[SPRING, SUMMER])
    events = [message(G, 7, i, T0 + DAY * (i - 1) + timedelta(hours=1), event_id=i) for i in range(1, 4)]
    tally = replay(ctx, mem, events, actions=ledger_actions(mem.seasons, (), (), None, None))
    resets = [p for p in mem.changes.postings if p.posting.kind is Kind.season_reset]
    assert [(p.posting.amount, p.posting.occurred_at, p.posting.idempotency_key, p.balance_after) for p in resets] == [
        (-10, T0 + DAY, "season_reset:1:xp:7", 0)]
    assert mem.balance(7, "xp") == 20 and mem.balance(7, "gold") == 3
    assert tally.deltas[(7, "xp")] == 30 and tally.postings == 6, "the tally counts what the rules paid, not resets"
    assert ledger_actions(mem.seasons, (), (), T0 + 2 * DAY, None) == []
    with pytest.raises(ValueError, match="has not closed"):
        replay(ctx, mem, [], actions=[SUMMER])


def _manual(uid: int, amount: int, kind: Kind, at: datetime, key: str, actor: int | None = 9) -> Posting:
    return Posting(guild_id=G, user_id=uid, currency="gold", amount=amount, kind=kind, idempotency_key=key,
                   occurred_at=at, actor_id=actor)


def test_manual_postings_and_hand_grants_become_the_actions_that_made_them() -> None:
    """Postings of one kind, time and actor are one action; grants by milestone, time and grantor; [start, end)."""
    later = T0 + DAY
    imported = [_manual(u, 100, Kind.import_, T0, f"import:x:gold:{u}") for u in (3, 1)]
    award = _manual(1, 5, Kind.admin_award, T0, "award:r1", actor=7)
    fix = _manual(3, -50, Kind.correction, later, "correction:r2:3:gold")
    grants = [HandGrant(G, 4, 2, later, "admin", 7), HandGrant(G, 2, 2, later, "admin", 7),
              HandGrant(G, 5, 2, T0, "retro", None)]
    actions = ledger_actions([SPRING], [*imported, award, fix], grants, None, None)
    assert actions == [ByHand(T0, "import", tuple(imported)), ByHand(T0, "admin_award", (award,)),
                       GrantedByHand(T0, G, 2, (5,), "retro", None), SPRING, ByHand(later, "correction", (fix,)),
                       GrantedByHand(later, G, 2, (2, 4), "admin", 7)]
    assert ledger_actions([SPRING], [*imported, award, fix], grants, T0 + timedelta(hours=1), later) == []
    assert ledger_actions([SPRING], [*imported, award, fix], grants, T0 + timedelta(hours=1),
                          later + timedelta(seconds=1)) == actions[3:]


def test_a_manual_debit_takes_what_a_draft_left_in_a_wallet_that_cannot_go_negative() -> None:
    """A correction down takes a no-negative wallet to zero, not below; credits and negative currencies as made."""
    cur = {**currencies(), "stars": replace(currencies()["stars"], allow_negative=True)}
    ctx = Context(ruleset(), cur)
    mem = MemoryState(G, currencies=cur, record=True, balances={(3, "gold"): 30, (3, "stars"): 30})
    fix = (_manual(3, -50, Kind.correction, T0, "c:gold"), _manual(3, 10, Kind.correction, T0, "c:gold:2"),
           replace(_manual(3, -50, Kind.correction, T0, "c:stars"), currency="stars"))
    apply(ctx, mem, ByHand(T0, "correction", fix), Tally())
    assert [(p.posting.currency, p.posting.amount, p.balance_after) for p in mem.changes.postings] == [
        ("gold", -30, 0), ("gold", 10, 10), ("stars", -50, -20)]
