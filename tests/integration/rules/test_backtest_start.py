"""A backtest's start state comes from the one fact loader: ``facts_as_of`` → ``db.snapshot.load`` →
``state_at`` gives the guild as it was at the start (ledger, milestones, lake counts, recent credits,
fires, posting keys and clawback sources, active days), each fact checked against the rows it stands
for, read back in Python. The history only some rules ask about (windowed counts and sums, fingerprints,
season caps) is checked by continuing live runs in ``test_full_vocabulary.py``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, timedelta

import pytest
import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, ledger_store, snapshot
from synapse.eventlake.events import Event
from synapse.ledger import keys
from synapse.processing.plan import BACKTEST_CREDITS, BACKTEST_DAYS, facts_as_of
from synapse.processing.snapshot import state_at
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import simulate
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

GUILD = 5252


@pytest.fixture(scope="module")
def day() -> list[Event]:
    return simulate(GUILD, members=12, hours=8, seed=7)


def _live(engine: sa.Engine, events: list[Event]) -> None:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    for i in range(0, len(events), 60):
        with engine.begin() as conn:
            process(conn, lake_store.append(conn, events[i:i + 60]), rules=RuleCache())


def _is_once(key: str) -> bool:
    try:
        keys.OncePerReactor.parse(key)
    except keys.MalformedKey:
        return False
    return True


def test_the_start_state_is_the_guild_as_it_was_at_the_start(engine: sa.Engine, day: list[Event]) -> None:
    """Balances, milestones, counts, voice minutes, cap credits, fires, keys, priors and days before the start."""
    _live(engine, day)
    start = day[len(day) // 2].occurred_at
    with engine.connect() as conn:
        g = {"g": GUILD}
        rows = lambda sql: list(conn.execute(sa.text(sql), g))  # noqa: E731
        txs = rows("SELECT t.user_id, t.currency_key, t.amount, t.kind, t.rule_id, t.occurred_at, t.idempotency_key, "
                   "e.source_system, e.source_event_id FROM transactions t LEFT JOIN event_lake e "
                   "ON e.guild_id = t.guild_id AND e.id = t.event_id WHERE t.guild_id = :g")
        grants = rows("SELECT um.user_id, m.key, um.earned_at FROM user_milestones um JOIN milestones m "
                      "ON m.guild_id = um.guild_id AND m.milestone_id = um.milestone_id WHERE um.guild_id = :g")
        lake = rows("SELECT user_id, event_type, occurred_at, payload FROM event_lake WHERE guild_id = :g")
        members = {r.user_id for r in rows("SELECT user_id FROM member_cache WHERE guild_id = :g")}
        state = state_at(snapshot.load(conn, facts_as_of(GUILD, start)),
                         currencies=ledger_store.load_currencies(conn, GUILD))
        empty = state_at(snapshot.load(conn, facts_as_of(GUILD, None)),
                         currencies=ledger_store.load_currencies(conn, GUILD))
    before = [t for t in txs if t.occurred_at < start]
    assert before and len(before) < len(txs), "the start splits the ledger"
    balances: Counter[tuple[int, str]] = Counter()
    for t in before:
        balances[(t.user_id, t.currency_key)] += t.amount
    assert state.balances == dict(balances)
    earned: dict[int, set[str]] = {}
    for r in grants:
        if r.earned_at < start:
            earned.setdefault(r.user_id, set()).add(r.key)
    assert earned and {u: state.earned_milestones(u) for u in earned} == earned
    assert all(not state.earned_milestones(r.user_id) - earned.get(r.user_id, set()) for r in grants)
    counts = Counter((e.user_id, e.event_type) for e in lake if e.occurred_at < start and e.user_id is not None)
    assert counts and all(state.event_count(u, et, None) == n for (u, et), n in counts.items())
    minutes: Counter[int] = Counter()
    for e in lake:
        if e.event_type == "voice_tick" and e.occurred_at < start and e.user_id is not None:
            m = e.payload.get("minutes")
            minutes[e.user_id] += m if isinstance(m, int) else 1
    assert minutes and all(state.event_sum(u, "voice_tick", "minutes", None) == n for u, n in minutes.items())
    since = start - BACKTEST_CREDITS
    credits = [t for t in before if t.occurred_at >= since and t.kind == "rule" and t.amount > 0]
    for uid, currency in {(t.user_id, t.currency_key) for t in credits}:
        used = sum(t.amount for t in credits if (t.user_id, t.currency_key) == (uid, currency))
        assert state.cap_used(uid, currency, since, start) == used
    for t in credits:
        if t.rule_id is not None:
            assert state.fired_between(t.rule_id, t.user_id, t.occurred_at - timedelta(microseconds=1),
                                       t.occurred_at + timedelta(microseconds=1))
            # what a clawback of the credit's event after the start takes back
            assert (t.user_id, t.currency_key, t.amount, t.idempotency_key) in {
                (p.user_id, p.currency, p.amount, p.idempotency_key)
                for p in state.prior_credits(t.source_system, t.source_event_id)}
    recent_keys = [t.idempotency_key for t in before if t.occurred_at >= since]
    assert any(_is_once(k) for k in recent_keys), "once-per-reactor credits before the start"
    assert all(state.any_posted([k]) for k in recent_keys)   # not posted again
    assert not any(state.any_posted([t.idempotency_key]) for t in txs if t.occurred_at >= start)
    days = {(e.user_id, e.occurred_at.astimezone(UTC).date()) for e in lake
            if e.user_id is not None and start - BACKTEST_DAYS <= e.occurred_at < start}
    first = min(d for _, d in days)
    assert days and {(u, d) for u in {u for u, _ in days}
                     for d in state.active_days(u, first, start.date())} == days
    assert set(state.members) == members and set(empty.members) == members
    assert not empty.balances and not empty.earned
    assert all(empty.event_count(u, et, None) == 0 for (u, et) in counts)
