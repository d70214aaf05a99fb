"""The batch path of the processing service (``BatchStore``: prefetch, evaluate in memory, write in bulk)
gives exactly what the statement-by-statement path (``DbStore``) gives, and falls back to it when the
database disagrees with what the batch predicted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, ledger_store
from synapse.db.engine import make_engine
from synapse.db.facts import BatchStore, DbStore
from synapse.eventlake.events import Event
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import simulate
from synapse.services import rules_runner
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process
from tests.support import services

GUILD = 5151


@pytest.fixture(scope="module")
def day() -> list[Event]:
    return simulate(GUILD, members=12, hours=8, seed=5)


@pytest.fixture
def other_engine(pg_template: str) -> Iterator[sa.Engine]:
    """A second fresh database: the same guild (same rule ids, so the same random amounts) on the other path."""
    name = services.create_test_database()
    eng = make_engine(services.server_url(name), pool_size=2)
    yield eng
    eng.dispose()
    services.drop_test_database(name)


def _run(engine: sa.Engine, events: list[Event], batch: int = 60) -> list[int]:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
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


def test_batch_path_writes_exactly_what_the_statement_path_writes(
        engine: sa.Engine, other_engine: sa.Engine, day: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[type] = []
    real_run = rules_runner.run

    def spy(ctx: Any, store: Any, events: Any, **kw: Any) -> Any:
        seen.append(type(store))
        return real_run(ctx, store, events, **kw)

    with monkeypatch.context() as m:
        m.setattr(rules_runner, "run", spy)
        batch_outbox = _run(engine, day)
    assert seen and set(seen) == {BatchStore}, f"every batch stays on the batch path (no fallback): {set(seen)}"
    with monkeypatch.context() as m:
        m.setattr(rules_runner, "BatchStore", _AlwaysMispredicts)   # every batch goes statement by statement
        plain_outbox = _run(other_engine, day)
    batch, plain = _state(engine), _state(other_engine)
    assert batch["transactions"], "the day credits something"
    kinds = {t[3] for t in batch["transactions"]}
    assert {"rule", "clawback"} <= kinds, f"the day has credits and clawbacks on the batch path: {kinds}"
    assert batch["milestones"] and batch["derived"] and batch["outbox"]
    for key in batch:
        assert batch[key] == plain[key], key
    assert len(batch_outbox) == len(plain_outbox) == len(batch["outbox"])
    with engine.connect() as conn:
        assert ledger_store.verify(conn, GUILD) == []


class _AlwaysMispredicts(BatchStore):
    def finish(self) -> None:
        super().finish()
        from synapse.db.facts import Mispredicted

        raise Mispredicted("forced by the test")


class _StaleWallets(BatchStore):
    """As if a writer that takes no member lock changed every wallet after the prefetch."""

    def prefetch(self, *args: Any, **kwargs: Any) -> None:
        super().prefetch(*args, **kwargs)
        for key in list(self._balances):
            self._balances[key] += 1000


def test_a_misprediction_rolls_the_batch_back_and_processes_it_statement_by_statement(
        engine: sa.Engine, other_engine: sa.Engine, day: list[Event], monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[type] = []
    real_run = rules_runner.run

    def spy(ctx: Any, store: Any, events: Any, **kw: Any) -> Any:
        seen.append(type(store))
        return real_run(ctx, store, events, **kw)

    monkeypatch.setattr(rules_runner, "run", spy)
    monkeypatch.setattr(rules_runner, "BatchStore", _StaleWallets)
    _run(engine, day)
    monkeypatch.setattr(rules_runner, "BatchStore", BatchStore)
    monkeypatch.setattr(rules_runner, "run", real_run)
    _run(other_engine, day)
    assert DbStore in seen, "stale wallets (held after the first batch) must be caught"
    assert _state(engine) == _state(other_engine)
    with engine.connect() as conn:
        assert ledger_store.verify(conn, GUILD) == []
