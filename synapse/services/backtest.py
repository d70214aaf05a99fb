"""Backtest service: draft rules over a time range of the Event Lake, without writing anything.

Everything runs in one READ ONLY transaction that is rolled back, so PostgreSQL itself
refuses any write; the run happens in memory (``synapse.processing.backtest``). The state at
the start of the range (balances, earned milestones, event counts, recent credits, fires and
posting keys for caps, cooldowns, once-per-reactor and clawbacks, members, channels, and the
windowed history the rules ask about) is read first, in one round trip by the one fact loader
(``processing.plan.facts_as_of`` → ``db.snapshot.load`` → ``processing.snapshot.state_at``), so
the run continues where history was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from synapse.db import ledger_store, level_roles_store, rules_store, snapshot
from synapse.eventlake.events import Actor, Event
from synapse.milestones.criteria import compile_milestones
from synapse.processing.backtest import (
    ENGINE_DERIVED,
    BacktestDiff,
    BacktestReport,
    backtest,
    context,
    diff,
    overlay,
)
from synapse.processing.plan import facts_as_of
from synapse.processing.snapshot import actions_in, state_at
from synapse.rules.model import RuleSpec


@dataclass(frozen=True)
class BacktestResult:
    draft: BacktestReport
    live: BacktestReport | None
    diff: BacktestDiff | None
    start: datetime | None
    end: datetime | None


def count_events(conn: Connection, guild_id: int, start: datetime | None, end: datetime | None) -> int:
    return int(conn.execute(text("""
        SELECT count(*) FROM event_lake WHERE guild_id = :g
           AND (CAST(:s AS timestamptz) IS NULL OR occurred_at >= :s)
           AND (CAST(:e AS timestamptz) IS NULL OR occurred_at < :e)
           AND NOT (source_system = 'synapse' AND event_type = ANY(:derived))"""),
        {"g": guild_id, "s": start, "e": end, "derived": sorted(ENGINE_DERIVED)}).scalar_one())


def load_events(conn: Connection, guild_id: int, start: datetime | None, end: datetime | None) -> Iterator[Event]:
    """Lake events of the range in the order live processing saw them (insertion order).

    Each event's actor has the member cache's name and bot flag and no roles: the rules take the roles
    from the state, as of the event's time (``member_role_history``, which ``facts_as_of`` reads).
    """
    rows = conn.execution_options(stream_results=True, yield_per=5000).execute(text("""
        SELECT e.id, e.source_system, e.source_event_id, e.event_type, e.user_id, e.channel_id, e.occurred_at,
               e.payload, m.display_name, m.is_bot
          FROM event_lake e LEFT JOIN member_cache m ON m.guild_id = e.guild_id AND m.user_id = e.user_id
         WHERE e.guild_id = :g
           AND (CAST(:s AS timestamptz) IS NULL OR e.occurred_at >= :s)
           AND (CAST(:e AS timestamptz) IS NULL OR e.occurred_at < :e)
           AND NOT (e.source_system = 'synapse' AND e.event_type = ANY(:derived))
         ORDER BY e.id"""), {"g": guild_id, "s": start, "e": end, "derived": sorted(ENGINE_DERIVED)})
    for r in rows:
        actor = None if r.display_name is None else Actor(name=r.display_name, bot=bool(r.is_bot))
        yield Event(r.source_system, r.source_event_id, r.event_type, guild_id, r.user_id, r.channel_id,
                    r.occurred_at, r.payload or {}, actor, r.id)


def run_backtest(conn: Connection, guild_id: int, draft: Sequence[RuleSpec] | None, *,
                 start: datetime | None = None, end: datetime | None = None, only_draft: bool = False,
                 compare: bool = True, progress: Callable[[int], None] | None = None) -> BacktestResult:
    """Backtest ``draft`` (overlaid on the live rules) and, if ``compare``, the live rules too, with a diff.

    Call it inside a transaction you roll back; ``run_backtest_readonly`` does that for you.
    """
    live_rules = rules_store.load_rules(conn, guild_id)
    disabled = [r.key for r in conn.execute(text("SELECT key FROM modules WHERE guild_id = :g AND NOT enabled"),
                                            {"g": guild_id})]
    currencies = ledger_store.load_currencies(conn, guild_id)
    milestones = compile_milestones(rules_store.load_milestones(conn, guild_id),
                                    curves={k: c.curve for k, c in currencies.items()})
    levelup = rules_store.levelup_route(conn, guild_id)
    settings = level_roles_store.rule_settings(conn, guild_id)   # templates and level roles, as live compiles them
    texts = level_roles_store.rule_texts(settings)
    level_roles = level_roles_store.load_table(conn, guild_id, settings)

    drafted_rules = overlay(live_rules, draft or (), only_draft=only_draft)
    runs = [drafted_rules, live_rules] if compare and draft else [drafted_rules]
    # One read of the start state seeds both runs (``state_at`` only reads the snapshot), with the
    # history either rule set asks about.
    needs = [context(rules, currencies=currencies, milestones=milestones, disabled_modules=disabled).needs
             for rules in runs]
    start_facts = snapshot.load(conn, facts_as_of(guild_id, start, needs))
    actions = actions_in(start_facts, start, end)   # (the same for both runs)

    def one(rules: Any, report_progress: Callable[[int], None] | None) -> BacktestReport:
        return backtest(load_events(conn, guild_id, start, end), rules=rules, currencies=currencies,
                        milestones=milestones, disabled_modules=disabled,
                        state=lambda: state_at(start_facts, currencies=currencies), progress=report_progress,
                        levelup=levelup, texts=texts, level_roles=level_roles,
                        actions=actions)

    drafted = one(drafted_rules, progress)
    live = one(live_rules, None) if len(runs) > 1 else None
    return BacktestResult(drafted, live, None if live is None else diff(drafted, live), start, end)


def run_backtest_readonly(engine: Engine, guild_id: int, draft: Sequence[RuleSpec] | None,
                          **options: Any) -> BacktestResult:
    """``run_backtest`` in a READ ONLY transaction that is always rolled back."""
    with engine.connect() as conn:
        conn.execute(text("SET TRANSACTION READ ONLY"))
        try:
            return run_backtest(conn, guild_id, draft, **options)
        finally:
            conn.rollback()
