"""Dashboard API benchmark: p50/p95 of overview, leaderboard, time series and heatmap at scale,
next to the floor of a trivial indexed query (and of a trivial HTTP request) in the same run.

    .venv/bin/python bench/api_bench.py [--events 10000000] [--members 100000] [--days 180]
                                        [--iterations 60] [--keep] [--reuse NAME]

1. Loads a throwaway database (``bench_api_*`` on SYNAPSE_DATABASE_URL's server, or the
   embedded one) with ``--events`` lake events over ``--days`` days from ``--members`` members
   (skewed: a few members do most of the talking), in ``generate_series`` chunks of 1M.
2. Folds the rollups with the pipeline's own code (``synapse.services.rollups.fold_guild``),
   posts one XP and one Stars transaction per member (the wallets follow by trigger),
   and ANALYZEs.
3. Calls each endpoint through the real ASGI app (FastAPI, validation, serialisation included)
   ``--iterations`` times after a warm-up, and the floors the same number of times, interleaved:
   ``SELECT balance FROM wallets WHERE <primary key>`` (database floor) and ``GET /api/health``
   (HTTP floor).

Loading 10M events takes minutes; ``--keep`` keeps the database and ``--reuse NAME`` measures
an existing one again without reloading.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from synapse.config import get_settings, load_settings
from synapse.db.engine import make_engine, resolve_database_url, sqlalchemy_url, with_database
from synapse.db.migrate import upgrade

GUILD = 1_300_000_000_000_000_001
CHANNELS = 50
CHUNK = 1_000_000
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
AIM_MS = 50.0


def step(label: str, fn: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    print(f"  {label} …", end="", flush=True)
    out = fn()
    print(f" {time.perf_counter() - began:.1f} s", flush=True)
    return out


def load(engine: sa.Engine, *, events: int, members: int, days: int) -> None:
    from synapse.admin import currencies, modules, settings

    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO guilds (guild_id, name) VALUES (:g, 'bench')"), {"g": GUILD})
        currencies.install_defaults(conn, GUILD)
        modules.install_defaults(conn, GUILD)
        settings.install_defaults(conn, GUILD)
        conn.execute(sa.text("UPDATE settings SET value = '\"Europe/Paris\"' WHERE guild_id = :g "
                             "AND key = 'timezone'"), {"g": GUILD})
    p = {"g": GUILD, "m": members, "now": NOW, "days": days}
    with engine.begin() as conn:
        step(f"{members:,} members", lambda: conn.execute(sa.text("""
            INSERT INTO member_cache (guild_id, user_id, display_name, joined_at, public_opt_out, roles)
            SELECT :g, u, 'member ' || u, :now - make_interval(secs => random() * :days * 86400),
                   u % 100 = 0, '{}' FROM generate_series(1, :m) u"""), p))
    for lo in range(1, events + 1, CHUNK):
        hi = min(events, lo + CHUNK - 1)

        def chunk(lo: int = lo, hi: int = hi) -> None:
            with engine.begin() as conn:
                conn.execute(sa.text("""
                    INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id,
                                            channel_id, occurred_at, payload)
                    SELECT :g, 'discord', 'bench:' || i,
                           CASE WHEN i % 100 < 70 THEN 'message_create' WHEN i % 100 < 88 THEN 'reaction_add'
                                WHEN i % 100 < 94 THEN 'voice_tick' WHEN i % 100 < 97 THEN 'thread_create'
                                WHEN i % 100 < 99 THEN 'member_join' ELSE 'member_leave' END,
                           1 + floor(:m * power(random(), 2))::bigint,
                           CASE WHEN i % 100 < 97 THEN 1 + (i * 7919) % :ch ELSE NULL END,
                           :now - make_interval(secs => random() * :days * 86400),
                           '{}'::jsonb
                      FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) i"""),
                    {**p, "lo": lo, "hi": hi, "ch": CHANNELS})
        step(f"events {lo:,}–{hi:,}", chunk)

    finish(engine, members=members)


def finish(engine: sa.Engine, *, members: int) -> None:
    """The steps after the lake load, each skipped when already done (so a killed load resumes)."""
    from synapse.services.rollups import fold_guild

    p = {"g": GUILD, "m": members, "now": NOW}

    def wallets() -> None:
        # Bulk load: the per-row posting trigger is bypassed for this throwaway database only; the rows
        # written keep the invariant (one transaction per wallet, balance == amount == balance_after).
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE transactions DISABLE TRIGGER transactions_post"))
            conn.execute(sa.text("ALTER TABLE wallets DISABLE TRIGGER wallets_guard"))
            conn.execute(sa.text("""
                CREATE TEMP TABLE seed ON COMMIT DROP AS
                SELECT u AS user_id, c AS currency_key,
                       1 + floor(random() * CASE c WHEN 'xp' THEN 500000 ELSE 2000 END)::bigint AS amount
                  FROM generate_series(1, :m) u, (VALUES ('xp'), ('stars')) v(c)"""), p)
            conn.execute(sa.text("""
                INSERT INTO transactions (guild_id, user_id, currency_key, amount, balance_after, kind,
                                          idempotency_key, occurred_at)
                SELECT :g, user_id, currency_key, amount, amount, 'import',
                       'bench:' || currency_key || ':' || user_id, :now FROM seed"""), p)
            conn.execute(sa.text("""
                INSERT INTO wallets (guild_id, user_id, currency_key, balance)
                SELECT :g, user_id, currency_key, amount FROM seed"""), p)
            conn.execute(sa.text("ALTER TABLE wallets ENABLE TRIGGER wallets_guard"))
            conn.execute(sa.text("ALTER TABLE transactions ENABLE TRIGGER transactions_post"))
    with engine.connect() as conn:
        has_wallets = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM wallets)")).scalar_one()
        stale_seen = conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM member_cache WHERE last_seen_at > :now)"),
                                  p).scalar_one()
    if not has_wallets:
        step("wallets (one xp and one stars transaction per member)", wallets)
    if stale_seen:
        def last_seen() -> None:  # what the ingest service keeps: each member's latest event
            with engine.begin() as conn:
                conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
                conn.execute(sa.text("""
                    UPDATE member_cache m SET last_seen_at = s.t
                      FROM (SELECT user_id, max(occurred_at) AS t FROM event_lake WHERE guild_id = :g
                             GROUP BY user_id) s
                     WHERE m.guild_id = :g AND m.user_id = s.user_id"""), p)
                conn.execute(sa.text("UPDATE member_cache SET last_seen_at = joined_at WHERE last_seen_at > :now"),
                             p)
        step("member_cache.last_seen_at", last_seen)

    def fold() -> None:
        with engine.connect() as conn:
            high = conn.execute(sa.text("SELECT max(id) FROM event_lake")).scalar_one()
        while True:
            with engine.begin() as conn:
                # Bench loader only: 1M events per run sort in memory instead of spilling to disk
                # (the timer folds at most 200k per run).
                conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
                n, _, _ = fold_guild(conn, GUILD, high=high, limit=CHUNK)
            if n == 0:
                break
            print(".", end="", flush=True)
    step("rollups (the timer's fold_guild, 1M events per run)", fold)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        step("VACUUM ANALYZE", lambda: conn.execute(sa.text("VACUUM ANALYZE")))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(url: str, iterations: int, members: int) -> list[tuple[str, list[float]]]:
    from fastapi.testclient import TestClient

    from synapse.api.app import create_app
    from synapse.bootstrap import Container, set_container
    from synapse.clock import FixedClock
    from synapse.services import queries
    from synapse.services.queries import clear_caches

    cfg = load_settings(database_url=url, log_level="WARNING")
    container = Container(cfg, clock=FixedClock(NOW), database_url=url)
    set_container(container)
    client = TestClient(create_app())
    g = f"/api/guilds/{GUILD}"
    with container.engine.connect() as conn:
        user = conn.execute(sa.text("SELECT user_id FROM wallets WHERE guild_id = :g AND currency_key = 'xp' "
                                    "ORDER BY balance DESC OFFSET :o LIMIT 1"),
                            {"g": GUILD, "o": 5000 if members > 10000 else 0}).scalar_one()
    deep = client.get(f"{g}/leaderboard/xp", params={"limit": 100}).json()["next_cursor"]

    def floor_sql() -> None:
        with container.engine.connect() as conn:
            conn.execute(sa.text("SELECT balance FROM wallets WHERE guild_id = :g AND user_id = :u "
                                 "AND currency_key = 'xp'"), {"g": GUILD, "u": user}).scalar_one()

    def get(path: str, **params: Any) -> Callable[[], None]:
        def call() -> None:
            r = client.get(path, params=params)
            if r.status_code != 200:
                raise SystemExit(f"{path} -> {r.status_code}: {r.text[:300]}")
        return call

    def cold(fn: Callable[[], None]) -> Callable[[], None]:
        """``fn`` with the read-model caches empty, leaving them as they were for the other cases."""
        def call() -> None:
            kept = dict(queries._cache)
            clear_caches()
            fn()
            queries._cache.update(kept)
        return call

    cases: list[tuple[str, Callable[[], None]]] = [
        ("floor: indexed SELECT (wallet by primary key)", floor_sql),
        ("floor: GET /api/health (HTTP stack)", get("/api/health")),
        ("overview", get(f"{g}/overview")),
        ("overview, cold (caches cleared every call)", cold(get(f"{g}/overview"))),
        ("leaderboard xp, first page (50)", get(f"{g}/leaderboard/xp")),
        ("leaderboard xp, page 2 by cursor (100)", get(f"{g}/leaderboard/xp", limit=100, cursor=deep)),
        ("time series, 30 days by day", get(f"{g}/activity", bucket="day")),
        ("time series, 7 days by hour", get(f"{g}/activity", bucket="hour",
                                            start=(NOW - timedelta(days=7)).isoformat())),
        ("time series, 180 days by day", get(f"{g}/activity", bucket="day",
                                             start=(NOW - timedelta(days=180)).isoformat())),
        ("heatmap, 28 days (guild time zone)", get(f"{g}/heatmap")),
        ("heatmap, 180 days", get(f"{g}/heatmap", start=(NOW - timedelta(days=180)).isoformat())),
        ("(extra) retention, 12 weekly cohorts, cold", cold(get(f"{g}/retention"))),
        ("(extra) guild info", get(g)),
        ("(extra) member profile (3 ranks)", get(f"{g}/members/{user}")),
    ]
    for _, fn in cases:  # warm-up: connections, plans, caches
        for _ in range(3):
            fn()
    timings: dict[str, list[float]] = {label: [] for label, _ in cases}
    for _ in range(iterations):  # interleaved, so load on the machine hits floor and endpoints alike
        for label, fn in cases:
            began = time.perf_counter()
            fn()
            timings[label].append((time.perf_counter() - began) * 1000)
    set_container(None)
    return [(label, timings[label]) for label, _ in cases]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", default="", help="measure this existing database (loaded by --keep)")
    args = parser.parse_args()
    os.environ.setdefault("SYNAPSE_LOG_LEVEL", "WARNING")

    base = resolve_database_url(get_settings())
    admin = sa.create_engine(sqlalchemy_url(with_database(base, "postgres")), isolation_level="AUTOCOMMIT",
                             poolclass=sa.NullPool)
    name = args.reuse or f"bench_api_{uuid.uuid4().hex[:8]}"
    url = with_database(base, name)
    try:
        if not args.reuse:
            print(f"loading {name}: {args.events:,} events, {args.members:,} members, {args.days} days")
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
            engine = make_engine(url, pool_size=2)
            upgrade(engine)
            load(engine, events=args.events, members=args.members, days=args.days)
            engine.dispose()
        engine = make_engine(url, pool_size=2)
        if args.reuse:
            finish(engine, members=args.members)
        with engine.connect() as conn:
            counts = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in ("event_lake", "member_cache", "wallets", "activity_hourly", "member_daily")}
        engine.dispose()
        print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        results = measure(url, args.iterations, counts["member_cache"])
        print(f"\n{'endpoint':48} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        worst = 0.0
        for label, values in results:
            p50, p95 = statistics.median(values), pct(values, 0.95)
            if not label.startswith(("floor", "(extra)")):
                worst = max(worst, p95)
            print(f"{label:48} {p50:8.2f} {p95:8.2f} {max(values):8.2f}")
        print(f"\nworst endpoint p95 {worst:.1f} ms (aim: < {AIM_MS:.0f} ms); {args.iterations} calls each, "
              "in-process ASGI, same database and run as the floors")
        return 0
    finally:
        if not args.keep and not args.reuse:
            with admin.connect() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        elif not args.reuse:
            print(f"kept database {name} (measure again with --reuse {name})")
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
