"""Backtests against the real database: exact agreement with live processing, and no write at all."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, level_roles_store, rules_store
from synapse.rules.cache import RuleCache
from synapse.rules.model import validate_rule
from synapse.rules.simulate import simulate
from synapse.services.backtest import run_backtest_readonly
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

GUILD = 777
MESSAGE_TYPES = {"message_create", "message_delete", "reaction_add", "reaction_remove"}


@pytest.fixture(scope="module")
def day() -> list[Any]:
    return simulate(GUILD, members=10, hours=6, seed=3)


def _live(engine: sa.Engine, events: list[Any], batch: int = 40) -> None:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    cache: RuleCache[object] = RuleCache()
    for i in range(0, len(events), batch):
        with engine.begin() as conn:
            process(conn, lake_store.append(conn, events[i:i + batch]), rules=cache)


def _live_deltas(engine: sa.Engine) -> dict[tuple[int, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_id, currency_key, balance FROM wallets WHERE guild_id = :g"),
                            {"g": GUILD})
        return {(r.user_id, r.currency_key): r.balance for r in rows if r.balance}


def _checksums(engine: sa.Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as conn:
        tables = [r.table_name for r in conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' ORDER BY 1"))]
        out = {}
        for t in tables:
            row = conn.execute(sa.text(
                f'SELECT count(*) AS n, md5(COALESCE(string_agg(x::text, \'|\' ORDER BY x::text), \'\')) AS h '
                f'FROM "{t}" x')).one()
            out[t] = (row.n, row.h)
        return out


def test_backtest_of_live_rules_matches_live_and_doubled_xp_pays_exactly_twice(
        engine: sa.Engine, day: list[Any]) -> None:
    """Same events: the live rules' backtest equals the wallets; a ×2 message-XP draft reports exactly 2× the XP."""
    events = [e for e in day if e.event_type in MESSAGE_TYPES]
    _live(engine, events)
    live = _live_deltas(engine)
    with engine.connect() as conn:
        message_rule = next(r for r in rules_store.load_rules(conn, GUILD) if r.spec.name == "Message XP")
    doubled = dict(message_rule.spec.model_dump(mode="json"))
    doubled["effects"][0]["multipliers"] = [{"times": 2}]
    result = run_backtest_readonly(engine, GUILD, [validate_rule(doubled)])
    assert result.live is not None and result.diff is not None
    assert {k: v for k, v in result.live.deltas.items() if v} == live           # backtest == live, every currency
    live_xp = {u: v for (u, c), v in live.items() if c == "xp"}
    assert sum(live_xp.values()) > 1000
    assert result.draft.member_deltas("xp") == {u: 2 * v for u, v in live_xp.items()}
    assert result.draft.total("xp") == 2 * sum(live_xp.values())
    assert result.diff.totals["xp"] == sum(live_xp.values())
    assert result.draft.total("stars") == result.live.total("stars")
    assert result.draft.distribution["xp"].members == len(live_xp)


def test_backtest_leaves_the_database_byte_for_byte_unchanged(engine: sa.Engine, day: list[Any]) -> None:
    """Row counts and checksums of every table are identical before and after a backtest (range and draft)."""
    _live(engine, day[: len(day) // 2])
    before = _checksums(engine)
    draft = validate_rule({"name": "Gold for everything", "trigger": {"event": "message_create"},
                           "effects": [{"type": "credit", "currency": "gold", "amount": 7},
                                       {"type": "check_milestones"}]})
    result = run_backtest_readonly(engine, GUILD, [draft], start=day[len(day) // 4].occurred_at)
    assert result.draft.events > 0 and result.draft.total("gold") > 0
    assert _checksums(engine) == before


def test_backtest_assigns_the_level_roles_live_assigned(engine: sa.Engine, day: list[Any]) -> None:
    """The guild's level role table is compiled into backtests as live compiles it: the same role adds."""
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
        level_roles_store.replace(conn, GUILD, [level_roles_store.Row("xp", 1, 5001),
                                                level_roles_store.Row("xp", 2, 5002)])
    _live(engine, [e for e in day if e.event_type in MESSAGE_TYPES])
    with engine.connect() as conn:
        live = sorted((int(r.payload["user_id"]), int(r.payload["role_id"]), "add") for r in conn.execute(sa.text(
            "SELECT payload FROM outbox WHERE guild_id = :g AND kind = 'role_add'"), {"g": GUILD}))
    assert {role for _, role, _ in live} == {5001, 5002}        # members reached both levels live
    result = run_backtest_readonly(engine, GUILD, None)
    assert sorted(result.draft.role_changes) == live
