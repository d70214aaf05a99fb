"""Live ingest and a backtest are one engine: a simulated day processed live (plan → load → run → write)
leaves exactly the wallets, postings and derived events a backtest of the same lake events computes in
memory; a wrong prediction raises, rolls the message back, and its redelivery credits exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin import currencies
from synapse.admin.audit import SYSTEM, Actor
from synapse.db import lake_store, ledger_store, rules_store
from synapse.db.changeset import Mispredicted
from synapse.db.engine import make_engine
from synapse.eventlake.events import Event
from synapse.processing.state import MemoryState
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import START, simulate
from synapse.services import member_admin, rules_runner, seasons
from synapse.services.awards import award
from synapse.services.backtest import run_backtest_readonly
from synapse.services.guild_init import init_guild
from synapse.services.milestones_admin import create_milestone, grant_milestone
from synapse.services.rules_runner import process
from tests.support import services
from tests.support.live import assert_backtest_matches, run_live, written

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


def _run(engine: sa.Engine, events: list[Event], *, init: bool = True) -> list[int]:
    if init:
        with engine.begin() as conn:
            init_guild(conn, GUILD, actor=SYSTEM)
    return run_live(engine, events)


def test_live_ingest_writes_exactly_what_a_backtest_of_the_same_day_computes(engine: sa.Engine,
                                                                            day: list[Event]) -> None:
    """Live vs backtest on a simulated day: identical wallets, postings (keys and balances) and derived events."""
    outbox = _run(engine, day)
    live = written(engine, GUILD)
    assert live["transactions"], "the day credits something"
    kinds = {t[3] for t in live["transactions"]}
    assert {"rule", "clawback"} <= kinds, f"the day has credits and clawbacks: {kinds}"
    assert live["milestones"] and live["outbox"]
    assert {"level_up", "milestone_earned"} <= {d[0] for d in live["derived"]}
    assert len(outbox) == len(live["outbox"])
    assert_backtest_matches(engine, GUILD, live)


def test_a_wrong_prediction_raises_rolls_back_and_the_redelivery_credits_once(
        engine: sa.Engine, other_engine: sa.Engine, day: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    """Stale wallets (as if a writer took no member lock) make the database refuse the batch: nothing of it
    remains, and delivering it again ends exactly where a clean run ends."""
    half = len(day) // 2
    _run(engine, day[:half])
    before = written(engine, GUILD)
    real = rules_runner.state_for

    def stale(*args: Any, **kwargs: Any) -> MemoryState:
        state = real(*args, **kwargs)
        for key in list(state.balances):
            state.balances[key] += 1000
        return state

    monkeypatch.setattr(rules_runner, "state_for", stale)
    with pytest.raises(Mispredicted), engine.begin() as conn:
        process(conn, lake_store.append(conn, day[half:]), rules=RuleCache())
    assert written(engine, GUILD) == before, "nothing of the refused message remains"
    monkeypatch.setattr(rules_runner, "state_for", real)
    _run(engine, day[half:], init=False)   # the queue delivers it again
    _run(other_engine, day)
    assert written(engine, GUILD) == written(other_engine, GUILD)
    with engine.connect() as conn:
        assert ledger_store.verify(conn, GUILD) == []


def test_a_backtest_across_a_season_roll_pays_what_live_paid(engine: sa.Engine) -> None:
    """Across a season roll (seasonal XP, a per-season cap), backtests replay the roll and compute what live wrote."""
    guild = 5153
    events = simulate(guild, members=12, hours=48, seed=7)
    roll_at = START + timedelta(hours=24)
    with engine.begin() as conn:
        init_guild(conn, guild, actor=SYSTEM)
        conn.execute(sa.text("UPDATE currencies SET seasonal = true WHERE guild_id = :g AND key = 'xp'"), {"g": guild})
        seasons.start(conn, guild, name="Spring", actor=SYSTEM, at=START - timedelta(hours=1))
        currencies.create(conn, guild, {"key": "tokens", "name": "Tokens"}, actor=SYSTEM)
        rules_store.save_rule(conn, guild, {
            "name": "Season tokens", "trigger": {"event": "message_create"},
            "conditions": [{"type": "cap", "currency": "tokens", "amount": 12, "window": "season"}],
            "effects": [{"type": "credit", "currency": "tokens", "amount": 1}]})
    run_live(engine, [e for e in events if e.occurred_at < roll_at])
    with engine.begin() as conn:
        seasons.roll(conn, guild, expected_season_id=1, next_name="Summer", actor=SYSTEM, at=roll_at)
    run_live(engine, [e for e in events if e.occurred_at >= roll_at])
    live = written(engine, guild)
    resets = [t for t in live["transactions"] if t[3] == "season_reset"]
    assert resets and all(t[1] == "xp" and t[6] == 0 and t[5] == roll_at for t in resets)
    tokens: Counter[tuple[int, bool]] = Counter()
    for user_id, currency, amount, _kind, _reason, at, *_ in live["transactions"]:
        if currency == "tokens":
            tokens[(user_id, at >= roll_at)] += amount
    assert max(tokens.values()) == 12 and {after for (_, after), n in tokens.items() if n == 12} == {False, True}, \
        "the cap is reached in both seasons"
    assert_backtest_matches(engine, guild, live)
    assert_backtest_matches(engine, guild, live, start=START + timedelta(hours=12))
    deltas: Counter[tuple[int, str]] = Counter()   # the dashboard's backtest (the service) reports what rules paid
    for user_id, currency, amount, kind, *_ in live["transactions"]:
        if kind in ("rule", "clawback"):
            deltas[(user_id, currency)] += amount
    report = run_backtest_readonly(engine, guild, None).draft
    assert {k: v for k, v in report.deltas.items() if v} == {k: v for k, v in deltas.items() if v}
    for start in (None, START + timedelta(hours=12)):
        with pytest.raises(AssertionError):
            assert_backtest_matches(engine, guild, live, start=start, seasons=False)


def test_a_backtest_replays_what_admins_did_by_hand(engine: sa.Engine) -> None:
    """An award across levels, a balance set down, a hand grant: backtests replay them and compute what live wrote."""
    guild = 5154
    events = simulate(guild, members=10, hours=36, seed=9)
    ada, bob, cy = sorted({e.user_id for e in events if e.user_id is not None})[:3]
    admin = Actor.user(42)
    at1, at2 = START + timedelta(hours=8), START + timedelta(hours=16)
    with engine.begin() as conn:
        init_guild(conn, guild, actor=SYSTEM)
        create_milestone(conn, guild, {
            "key": "helper", "name": "Helper", "criteria": {"type": "balance", "currency": "xp", "at_least": 10**9},
            "rewards": [{"type": "currency", "currency": "gold", "amount": 50}]}, actor=SYSTEM)
    run_live(engine, [e for e in events if e.occurred_at < at1])
    with engine.begin() as conn:
        award(conn, guild, user_id=ada, currency="xp", amount=10_000, reason="event winner", actor=admin,
              request_id="req-1", at=at1)
    run_live(engine, [e for e in events if at1 <= e.occurred_at < at2])
    with engine.begin() as conn:
        member_admin.set_balance(conn, guild, user_id=bob, currency="xp", balance=5, reason="spam", actor=admin,
                                 request_key="req-2", at=at2)
        grant_milestone(conn, guild, cy, "helper", actor=admin, at=at2)
    run_live(engine, [e for e in events if e.occurred_at >= at2])
    live = written(engine, guild)
    assert {(t[0], t[3]) for t in live["transactions"] if t[3] in ("admin_award", "correction")} == {
        (ada, "admin_award"), (bob, "correction")}
    assert any(t[0] == cy and t[4] == "milestone Helper" for t in live["transactions"])
    assert any(d[0] == "level_up" and d[1] == ada and d[2] == at1 and int(d[3]) >= 10 for d in live["derived"]), \
        "the award levels its member up at once"
    assert_backtest_matches(engine, guild, live)
    assert_backtest_matches(engine, guild, live, start=START + timedelta(hours=12))
    for start in (None, START + timedelta(hours=12)):
        with pytest.raises(AssertionError):
            assert_backtest_matches(engine, guild, live, start=start, by_hand=False)
    # The dashboard's report: what the rules paid (the award is not theirs), with the level-ups the award caused.
    report = run_backtest_readonly(engine, guild, None).draft
    assert report.deltas[(ada, "xp")] == sum(t[2] for t in live["transactions"]
                                             if t[0] == ada and t[1] == "xp" and t[3] in ("rule", "clawback"))
    assert any(u == ada and c == "xp" and new >= 10 for u, c, _, new in report.level_ups)
