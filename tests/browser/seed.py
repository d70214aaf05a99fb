"""Seed a database with a simulated community through the real pipeline (for the dashboard's browser tests).

The simulator's events go through the ingest service exactly as queue messages would (rules,
ledger, milestones, outbox), then the rollup service fills the tables the analytics read.
Runnable by hand to get a populated database for dashboard work::

    .venv/bin/python -m tests.browser.seed postgresql://…/db [--days 14]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from synapse.clock import SystemClock

GUILD_ID = 1_100_000_000_000_000_001
GUILD_NAME = "Simulated Community"


def _refresh_rollups(engine: Any, guild_id: int) -> int:
    """Fold the lake into the analytics rollups, as the pipeline's timer does, until caught up."""
    from synapse.services.rollups import roll_up

    folded = 0
    for _ in range(1000):
        report = roll_up(engine, guild_id=guild_id)
        folded += report.events
        if report.events == 0 and not report.skipped:
            break
    return folded


def seed(db_url: str, *, guild_id: int = GUILD_ID, days: float = 14, members: int = 40,
         seed_value: int = 7) -> dict[str, Any]:
    from synapse.db.engine import make_engine, transaction
    from synapse.services.guild_init import init_guild
    from synapse.services.ingest import handle
    from synapse.simulate.community import SimulationConfig, envelopes, simulate

    began = time.perf_counter()
    engine = make_engine(db_url, pool_size=2)
    try:
        with transaction(engine) as conn:
            init_guild(conn, guild_id, name=GUILD_NAME)
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        events = simulate(SimulationConfig(seed=seed_value, guild_id=guild_id, members=members, days=days,
                                           end=end))
        clock = SystemClock()
        # A cache of our own: the process-wide one may hold another test database's rules.
        from synapse.rules.cache import RuleCache

        rules: RuleCache[Any] = RuleCache()
        batches = 0
        for text in envelopes(events, max_events=500):
            handle(text, engine, clock=clock, rules=rules)
            batches += 1
        rollup = _refresh_rollups(engine, guild_id)
    finally:
        engine.dispose()
    return {"events": len(events), "envelopes": batches, "rolled_up": rollup,
            "seconds": round(time.perf_counter() - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db_url")
    parser.add_argument("--days", type=float, default=14)
    parser.add_argument("--members", type=int, default=40)
    args = parser.parse_args()
    print(seed(args.db_url, days=args.days, members=args.members))


if __name__ == "__main__":
    main()
