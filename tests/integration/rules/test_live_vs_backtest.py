"""Live ingest and a backtest are one engine: a simulated day processed live (plan → load → run → write)
leaves exactly the wallets, postings and derived events a backtest of the same lake events computes in
memory; a wrong prediction raises, rolls the message back, and its redelivery credits exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, ledger_store
from synapse.db.changeset import Mispredicted
from synapse.db.engine import make_engine
from synapse.eventlake.events import Event
from synapse.processing import loop
from synapse.processing.backtest import ENGINE_DERIVED
from synapse.processing.state import MemoryState
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import simulate
from synapse.services import rules_runner
from synapse.services.backtest import load_events
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import load_context, process
from tests.support import services

GUILD = 5151


@pytest.fixture(scope="module")
def day() -> list[Event]:
    return simulate(GUILD, members=12, hours=8, seed=5)


@pytest.fixture
def other_engine(pg_template: str) -> Iterator[sa.Engine]:
    """A second fresh database: the same guild (same rule ids, so the same random amounts)."""
    name = services.create_test_database()
    eng = make_engine(services.server_url(name), pool_size=2)
    yield eng
    eng.dispose()
    services.drop_test_database(name)


def _init(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)


def _run(engine: sa.Engine, events: list[Event], batch: int = 60, *, init: bool = True) -> list[int]:
    if init:
        _init(engine)
    cache: RuleCache[object] = RuleCache()
    outbox: list[int] = []
    evs = list(events)
    for i in range(0, len(evs), batch):
        with engine.begin() as conn:
            result = process(conn, lake_store.append(conn, evs[i:i + batch]), rules=cache)
            outbox.extend(result.outbox_ids)
    return outbox


def _state(engine: sa.Engine, guild: int = GUILD) -> dict[str, Any]:
    """Everything the rules wrote, keyed so that two guilds compare (rule names, not ids; no event ids)."""
    with engine.connect() as conn:
        q = lambda sql: [tuple(r) for r in conn.execute(sa.text(sql), {"g": guild})]  # noqa: E731
        return {
            "wallets": sorted(q("SELECT user_id, currency_key, balance FROM wallets WHERE guild_id = :g")),
            "transactions": sorted(q("""
                SELECT t.user_id, t.currency_key, t.amount, t.kind, r.name, t.occurred_at, t.balance_after,
                       t.event_type
                  FROM transactions t LEFT JOIN rules r ON r.guild_id = t.guild_id AND r.rule_id = t.rule_id
                 WHERE t.guild_id = :g""")),
            "milestones": sorted(q("""
                SELECT um.user_id, m.key, um.earned_at FROM user_milestones um
                  JOIN milestones m ON m.guild_id = um.guild_id AND m.milestone_id = um.milestone_id
                 WHERE um.guild_id = :g""")),
            "rule_state": sorted(q("""
                SELECT r.name, s.user_id, s.last_fired_at FROM rule_state s
                  JOIN rules r ON r.guild_id = s.guild_id AND r.rule_id = s.rule_id WHERE s.guild_id = :g""")),
            "derived": sorted(q("""
                SELECT event_type, user_id, occurred_at, payload ->> 'new_level', payload ->> 'milestone'
                  FROM event_lake WHERE guild_id = :g AND source_system = 'synapse'""")),
            "outbox": sorted(q("""
                SELECT kind, payload ->> 'user_id', payload ->> 'reason' FROM outbox WHERE guild_id = :g""")),
        }


def test_live_ingest_writes_exactly_what_a_backtest_of_the_same_day_computes(engine: sa.Engine,
                                                                            day: list[Event]) -> None:
    """Live vs backtest on a simulated day: identical wallets, postings (keys and balances) and derived events."""
    outbox = _run(engine, day)
    live = _state(engine)
    assert live["transactions"], "the day credits something"
    kinds = {t[3] for t in live["transactions"]}
    assert {"rule", "clawback"} <= kinds, f"the day has credits and clawbacks: {kinds}"
    assert live["milestones"] and live["outbox"]
    assert {"level_up", "milestone_earned"} <= {d[0] for d in live["derived"]}
    assert len(outbox) == len(live["outbox"])
    with engine.connect() as conn:
        assert ledger_store.verify(conn, GUILD) == []
        ctx = load_context(conn, GUILD, RuleCache())
        events = list(load_events(conn, GUILD, None, None))   # the lake's events, with their ids
        db_postings = sorted(tuple(r) for r in conn.execute(sa.text("""
            SELECT user_id, currency_key, amount, kind, idempotency_key, balance_after, occurred_at
              FROM transactions WHERE guild_id = :g"""), {"g": GUILD}))
    state = MemoryState(GUILD, currencies=ctx.currencies, record=True)
    loop.run(ctx, state, events)
    assert sorted((u, c, b) for (u, c), b in state.balances.items()) == live["wallets"]
    assert sorted((p.posting.user_id, p.posting.currency, p.posting.amount, str(p.posting.kind),
                   p.posting.idempotency_key, p.balance_after, p.posting.occurred_at)
                  for p in state.changes.postings) == db_postings
    assert sorted((e.event_type, e.user_id, e.occurred_at,
                   None if e.payload.get("new_level") is None else str(e.payload["new_level"]),
                   e.payload.get("milestone")) for e in state.changes.derived) == [
        d for d in live["derived"] if d[0] in ENGINE_DERIVED]
    assert sorted((o.kind, o.payload.get("user_id"), o.payload.get("reason"))
                  for o in state.changes.outbox) == live["outbox"]


def test_a_wrong_prediction_raises_rolls_back_and_the_redelivery_credits_once(
        engine: sa.Engine, other_engine: sa.Engine, day: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    """Stale wallets (as if a writer took no member lock) make the database refuse the batch: nothing of it
    remains, and delivering it again ends exactly where a clean run ends."""
    half = len(day) // 2
    _run(engine, day[:half])
    before = _state(engine)
    real = rules_runner.state_for

    def stale(*args: Any, **kwargs: Any) -> MemoryState:
        state = real(*args, **kwargs)
        for key in list(state.balances):
            state.balances[key] += 1000
        return state

    monkeypatch.setattr(rules_runner, "state_for", stale)
    with pytest.raises(Mispredicted), engine.begin() as conn:
        process(conn, lake_store.append(conn, day[half:]), rules=RuleCache())
    assert _state(engine) == before, "nothing of the refused message remains"
    monkeypatch.setattr(rules_runner, "state_for", real)
    _run(engine, day[half:], init=False)   # the queue delivers it again
    _run(other_engine, day)
    assert _state(engine) == _state(other_engine)
    with engine.connect() as conn:
        assert ledger_store.verify(conn, GUILD) == []
