"""Live runs and their backtests, for the tests that hold the two to one engine.

``run_live`` processes events the way ingest does (lake append, then the rules, one transaction per
batch); ``written`` reads back everything the rules wrote, keyed so that two guilds or two databases
compare; ``assert_backtest_matches`` runs a backtest of the lake in memory (from the beginning, or from a
start inside the history) and requires exactly the wallets, postings, derived events and outbox rows
live wrote.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from synapse.db import lake_store, ledger_store, snapshot
from synapse.eventlake.events import Event
from synapse.processing.backtest import ENGINE_DERIVED, replay
from synapse.processing.plan import facts_as_of
from synapse.processing.snapshot import actions_in, state_at
from synapse.rules.cache import RuleCache
from synapse.services.backtest import load_events
from synapse.services.rules_runner import load_context, process


def run_live(engine: sa.Engine, events: list[Event], batch: int = 60) -> list[int]:
    """Append and process ``events`` in batches, one transaction each; the outbox row ids written."""
    cache: RuleCache[object] = RuleCache()
    outbox: list[int] = []
    for i in range(0, len(events), batch):
        with engine.begin() as conn:
            result = process(conn, lake_store.append(conn, events[i:i + batch]), rules=cache)
            outbox.extend(result.outbox_ids)
    return outbox


def written(engine: sa.Engine, guild: int) -> dict[str, Any]:
    """Everything the rules wrote, keyed so that two guilds compare (rule names, not ids; no event ids;
    a milestone reward, which has no rule, by its reason)."""
    with engine.connect() as conn:
        q = lambda sql: [tuple(r) for r in conn.execute(sa.text(sql), {"g": guild})]  # noqa: E731
        return {
            "wallets": sorted(q("SELECT user_id, currency_key, balance FROM wallets WHERE guild_id = :g")),
            "transactions": sorted(q("""
                SELECT t.user_id, t.currency_key, t.amount, t.kind, coalesce(r.name, t.reason), t.occurred_at,
                       t.balance_after, t.event_type
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


def assert_backtest_matches(engine: sa.Engine, guild: int, live: dict[str, Any], *,
                            start: datetime | None = None, role_history: bool = True, seasons: bool = True,
                            by_hand: bool = True) -> None:
    """A backtest of the guild's lake computes ``live``: from its members and channels (no history), or from
    ``start``, continuing from the state the loader reads for it (then what live wrote from ``start`` on).
    ``role_history=False`` drops the members' role history (each event then gets the roles cached now);
    ``seasons=False`` the guild's seasons (every event then in the season of the start, no roll replayed);
    ``by_hand=False`` what admins did by hand (awards, corrections, imports, grants: not replayed)."""
    with engine.connect() as conn:
        assert ledger_store.verify(conn, guild) == []
        ctx = load_context(conn, guild, RuleCache())
        first = snapshot.load(conn, facts_as_of(guild, start, [ctx.needs]))
        events = list(load_events(conn, guild, start, None))   # the lake's events, with their ids
        db_postings = sorted(tuple(r) for r in conn.execute(sa.text("""
            SELECT user_id, currency_key, amount, kind, idempotency_key, balance_after, occurred_at
              FROM transactions WHERE guild_id = :g AND occurred_at >= COALESCE(CAST(:s AS timestamptz), 'epoch')"""),
            {"g": guild, "s": start}))
    assert events, "the backtest has events to run"
    if not role_history:
        first.role_history = {}
    if not seasons:
        first.seasons = []
    if not by_hand:
        first.by_hand, first.hand_grants = [], []
    state = state_at(first, currencies=ctx.currencies, record=True)
    replay(ctx, state, events, actions=actions_in(first, start, None))
    assert sorted((u, c, b) for (u, c), b in state.balances.items()) == live["wallets"]
    assert sorted((p.posting.user_id, p.posting.currency, p.posting.amount, str(p.posting.kind),
                   p.posting.idempotency_key, p.balance_after, p.posting.occurred_at)
                  for p in state.changes.postings) == db_postings
    derived = sorted((e.event_type, e.user_id, e.occurred_at,
                      None if e.payload.get("new_level") is None else str(e.payload["new_level"]),
                      e.payload.get("milestone")) for e in state.changes.derived)
    live_derived = [d for d in live["derived"] if d[0] in ENGINE_DERIVED and (start is None or d[2] >= start)]
    assert derived == live_derived, (f"only in the backtest: {sorted(set(derived) - set(live_derived))}; "
                                     f"only live: {sorted(set(live_derived) - set(derived))}")
    if start is None:   # (outbox rows carry no event time)
        assert sorted((o.kind, o.payload.get("user_id"), o.payload.get("reason"))
                      for o in state.changes.outbox) == live["outbox"]
