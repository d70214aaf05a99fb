"""Period leaderboards at scale: one page (+ the viewer's rank) of the week, month and season boards.

    .venv/bin/python bench/period_board_bench.py [--members 10000] [--transactions 2000000] [--days 60]

Loads a throwaway test database (from the migrated template: ``ix_transactions_period`` included)
with ``--transactions`` xp transactions spread evenly over ``--days`` days before a fixed "now",
from ``--members`` members (2 % ``import`` and 1 % ``season_reset`` rows, which the boards skip),
bulk-inserted with ``generate_series`` (wallet triggers off: the boards never read wallets for
ranks), ``VACUUM ANALYZE``s, then times ``synapse.db.period_totals.period_page`` (50 rows and the
viewer's row) five times per window and prints the median, next to the floor of a primary-key
read, and the plan of the month's sum.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from synapse.db.engine import sqlalchemy_url
from synapse.db.period_totals import period_page
from tests.support import services

GUILD = 1
NOW = datetime(2025, 3, 12, 15, 30, tzinfo=UTC)


def _timed(fn: object, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--transactions", type=int, default=2_000_000)
    parser.add_argument("--days", type=int, default=60)
    args = parser.parse_args()
    services.build_template()
    name = services.create_test_database()
    engine = sa.create_engine(sqlalchemy_url(services.server_url(name)))
    try:
        with engine.begin() as conn:
            from synapse.admin import currencies

            conn.execute(sa.text("INSERT INTO guilds (guild_id, name) VALUES (:g, 'bench')"), {"g": GUILD})
            currencies.install_defaults(conn, GUILD)
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            start = time.perf_counter()
            conn.execute(sa.text("""
                INSERT INTO transactions (guild_id, user_id, currency_key, amount, kind, idempotency_key, occurred_at)
                SELECT :g, 1 + (i::bigint * 7919) % :m, 'xp', 1 + i % 25,
                       CASE WHEN i % 50 = 0 THEN 'import' WHEN i % 97 = 0 THEN 'season_reset' ELSE 'rule' END,
                       'k' || i, CAST(:now AS timestamptz) - ((i::bigint * 2654435761) % :span) * interval '1 second'
                  FROM generate_series(1, :n) i"""),
                {"g": GUILD, "m": args.members, "n": args.transactions, "now": NOW, "span": args.days * 86400})
            print(f"loaded {args.transactions:,} transactions in {time.perf_counter() - start:.0f} s")
        with engine.connect() as raw:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text("VACUUM ANALYZE transactions"))
            floor = _timed(lambda: conn.execute(sa.text(
                "SELECT amount FROM transactions WHERE guild_id = :g AND id = 1"), {"g": GUILD}).all())
            print(f"floor (primary-key read): {floor:.2f} ms")
            windows = [("week", datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 17, tzinfo=UTC)),
                       ("month", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
                       (f"season ({args.days} days)", NOW - timedelta(days=args.days), None)]
            for label, since, until in windows:
                n = conn.execute(sa.text("""SELECT count(*) FROM transactions WHERE guild_id = :g AND occurred_at >= :s
                                              AND (CAST(:e AS timestamptz) IS NULL OR occurred_at < :e)"""),
                                 {"g": GUILD, "s": since, "e": until}).scalar()
                ms = _timed(lambda s=since, u=until: period_page(conn, GUILD, "xp", start=s, end=u, limit=50,
                                                                  viewer_id=4242))
                print(f"{label}: {n:,} transactions in the window: {ms:.0f} ms (median of 5)")
            plan = conn.execute(sa.text("""EXPLAIN (ANALYZE, BUFFERS) SELECT user_id, SUM(amount) FROM transactions
                 WHERE guild_id = :g AND currency_key = 'xp'
                   AND occurred_at >= '2025-03-01' AND occurred_at < '2025-04-01'
                   AND kind NOT IN ('season_reset', 'import') GROUP BY user_id"""), {"g": GUILD}).all()
            print("\n".join(r[0] for r in plan))
    finally:
        engine.dispose()
        services.drop_test_database(name)


if __name__ == "__main__":
    main()
