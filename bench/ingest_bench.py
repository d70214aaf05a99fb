"""Ingest throughput for one worker with the default rule pack, next to the floor of lake inserts alone.

    .venv/bin/python bench/ingest_bench.py [--events 20000] [--members 300] [--seed 1] [--phases] [--history N]

Both measurements run in the same fresh database, in the same run, on the same envelopes
(simulated traffic, relay-sized batches):

- floor:  each envelope decoded and its events appended to ``event_lake`` in one transaction
          (``lake_store.append``), nothing else: what storing the events costs at the least;
- bare:   the same through the pipeline with the rules runner replaced by a no-op (its own cost);
- ingest: each envelope through ``synapse.services.ingest.handle`` (decode, lake append,
          member cache, voice sessions, rules with the default pack, ledger postings, level-ups,
          milestones, outbox rows, one transaction), sequentially: one worker.

The floor runs in a guild of its own, so both see an empty lake for their guild. ``--history N`` gives
the ingest guilds' members a long past first (N messages each, and milestones out of reach), so the
fact loader's work on a long-lived guild shows. Figures are
events received per second (derived events such as voice ticks and level-ups are extra work the
ingest figure includes). Aim: ingest ≥ 50 % of the floor and ≥ 2,000 events/s on 2 cores.
Uses SYNAPSE_DATABASE_URL's server (or the embedded one), in a throwaway database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from synapse.clock import FixedClock
from synapse.config import get_settings
from synapse.db import lake_store
from synapse.db.engine import make_engine, resolve_database_url, sqlalchemy_url, with_database
from synapse.db.migrate import upgrade
from synapse.eventlake.envelope import decode_envelope, encode_envelope
from synapse.services.guild_init import init_guild
from synapse.services.ingest import handle
from synapse.simulate.community import SimulationConfig, envelopes, simulate

GUILD = 1_200_000_000_000_000_001
FLOOR_GUILD = 1_200_000_000_000_000_002
BARE_GUILD = 1_200_000_000_000_000_003
FLOOR_GUILD_2 = 1_200_000_000_000_000_004
GUILD_2 = 1_200_000_000_000_000_005


def traffic(target: int, members: int, seed: int) -> list[dict]:
    days = 1.0
    while True:
        events = simulate(SimulationConfig(seed=seed, guild_id=GUILD, members=members, days=days,
                                           end=datetime(2026, 3, 9, tzinfo=UTC)))
        if len(events) >= target:
            return events[:target]
        days *= max(1.2, target / max(len(events), 1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=200, help="events per envelope (relay cuts at ≤ 500)")
    parser.add_argument("--phases", action="store_true", help="also time the phases of ingest (where time goes)")
    parser.add_argument("--history", type=int, default=0, metavar="N",
                        help="give each member N earlier messages and N/4 voice minutes in the ingest guilds, and "
                             "milestones on lifetime counts and sums they have not reached (a long-lived guild)")
    args = parser.parse_args()
    floor_append = lake_store.append   # the floor's own, untimed (the phases time ingest's appends only)
    phases = _phase_timers() if args.phases else None

    os.environ.setdefault("SYNAPSE_LOG_LEVEL", "WARNING")
    base = resolve_database_url(get_settings())
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(sqlalchemy_url(with_database(base, "postgres")), isolation_level="AUTOCOMMIT",
                             poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = with_database(base, name)
    try:
        engine = make_engine(url, pool_size=2)
        upgrade(engine)
        statements = _statement_timers(engine) if args.phases else None
        with engine.begin() as conn:
            init_guild(conn, GUILD, name="bench")
            init_guild(conn, GUILD_2, name="bench again")
        events = traffic(args.events, args.members, args.seed)
        if args.history:
            seed_history(engine, events, args.history)
        texts = list(envelopes(events, max_events=args.batch))
        floor_texts = for_guild(texts, FLOOR_GUILD)
        kinds: dict[str, int] = {}
        for e in events:
            kinds[e["event_type"]] = kinds.get(e["event_type"], 0) + 1
        print(f"traffic: {len(events)} events in {len(texts)} envelopes, {args.members} members; "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))

        def floor_pass(guild: int) -> float:
            began = time.perf_counter()
            for text in floor_texts:
                batch = [replace(e, guild_id=guild) for e in decode_envelope(text)]
                with engine.begin() as conn:
                    floor_append(conn, batch)
            return time.perf_counter() - began

        floor_before = floor_pass(FLOOR_GUILD)

        clock = FixedClock(datetime(2026, 3, 9, tzinfo=UTC) + timedelta(hours=1))

        def ingest_pass(envelope_texts: list[str]) -> tuple[float, int, int]:
            if statements is not None:
                statements["on"] = True   # the ingest passes' statements only
            began = time.perf_counter()
            derived = postings = 0
            for text in envelope_texts:
                result = handle(text, engine, clock=clock)
                derived += result.derived
                postings += result.postings
            if statements is not None:
                statements["on"] = False
            return time.perf_counter() - began, derived, postings

        first = ingest_pass(texts)

        # The pipeline without the rules (decode, lake append, locks, member cache, voice), in a
        # third guild: how much of the cost is the pipeline's own.
        from synapse.services import ingest as ingest_service
        from synapse.services import rules_runner

        bare_texts = for_guild(texts, BARE_GUILD)
        real = rules_runner.evaluate
        rules_runner.evaluate = lambda conn, evs, **kw: rules_runner.Evaluated(  # type: ignore[assignment]
            unstored=list(kw.get("unstored", ())))   # voice's derived events: appended without rules
        try:
            began = time.perf_counter()
            for text in bare_texts:
                ingest_service.handle(text, engine, clock=clock)
            bare_seconds = time.perf_counter() - began
        finally:
            rules_runner.evaluate = real

        # Ingest and floor again, each in a guild of its own: on a shared machine load drifts, and each
        # figure is the better of its two runs (the second ingest works on a bigger database).
        again = for_guild(texts, GUILD_2)
        # (The same work give or take a few level-ups: random amounts are seeded from lake ids.)
        second = ingest_pass(again)
        ingest_seconds, derived, postings = min(first, second)   # the counts of the run whose time is shown
        ingest_first, ingest_second = first[0], second[0]
        floor_seconds = min(floor_before, floor_pass(FLOOR_GUILD_2))
        floor_rate = len(events) / floor_seconds
        ingest_rate = len(events) / ingest_seconds
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"floor  (lake insert only): {floor_rate:8.0f} events/s  ({floor_seconds:.2f} s; best of before/after)")
        print(f"ingest (default rule pack): {ingest_rate:8.0f} events/s  ({ingest_seconds:.2f} s; best of "
              f"{ingest_first:.2f}/{ingest_second:.2f} s; {derived} derived events, {postings} postings)")
        print(f"pipeline without rules:     {len(events) / bare_seconds:8.0f} events/s  ({bare_seconds:.2f} s)")
        if phases is not None:
            print("phases over all ingest passes (seconds, calls): " + ", ".join(
                f"{name} {seconds:.2f} ({calls})" for name, (seconds, calls) in phases.items()))
        if statements is not None:
            timed = statements["seconds"]
            print(f"in SQL statements (execute to result, round trip included) over both ingest passes: "
                  f"{sum(timed.values()):.2f} of {ingest_first + ingest_second:.2f} s: " + ", ".join(
                      f"{name} {seconds:.2f}" for name, seconds in sorted(timed.items(), key=lambda kv: -kv[1])))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"ratio: {ingest_rate / floor_rate:.1%} of the floor  (aim ≥ 50 %, ≥ 2,000 events/s; {cores} cores, "
              f"load average {load:.1f})")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
    return 0


def seed_history(engine: sa.Engine, events: list[dict], per_member: int) -> None:
    """Each member of the traffic gets ``per_member`` messages and ``per_member // 4`` voice minutes before it,
    in both ingest guilds, plus milestones on lifetime counts and sums nobody reaches (so every message's
    snapshot asks for them): what a guild a few years old looks like to the fact loader. The lake is
    vacuumed after, as autovacuum would have left an old history."""
    from synapse.admin.audit import CLI
    from synapse.services.milestones_admin import create_milestone

    members = sorted({int(e["user_id"]) for e in events if e.get("user_id")})
    began = time.perf_counter()
    with engine.begin() as conn:
        for guild in (GUILD, GUILD_2):
            for kind, count, payload in (("message_create", per_member, '{"length": 20}'),
                                         ("voice_tick", per_member // 4, '{"minutes": 1, "members_in_channel": 3}')):
                conn.execute(sa.text("""
                    INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id,
                                            channel_id, occurred_at, payload)
                    SELECT :g, 'discord', 'history:' || :t || ':' || u || ':' || i, :t, u, 1,
                           :start - i * interval '37 s', CAST(:p AS jsonb)
                      FROM unnest(CAST(:u AS bigint[])) AS u, generate_series(1, :n) AS i"""),
                    {"g": guild, "t": kind, "u": members, "n": count, "p": payload,
                     "start": datetime(2026, 1, 1, tzinfo=UTC)})
            for spec in ({"key": "messages-1m", "name": "A million messages",
                          "criteria": {"type": "event_count", "event": "message_create", "at_least": 1_000_000}},
                         {"key": "voice-100k-h", "name": "100,000 hours in voice",
                          "criteria": {"type": "event_sum", "event": "voice_tick", "field": "minutes",
                                       "at_least": 6_000_000}}):
                create_milestone(conn, guild, spec, actor=CLI)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # only the tables the history filled: analysed while empty, the others would plan as a young guild's
        # never do (a seq scan cached for user_milestones, say, as it fills during the run)
        conn.execute(sa.text("VACUUM ANALYZE event_lake, member_event_totals"))
    print(f"history: {len(members)} members × ({per_member} messages + {per_member // 4} voice minutes) in each "
          f"ingest guild, 2 milestones out of reach ({time.perf_counter() - began:.1f} s)")


def _phase_timers() -> dict[str, list[float]]:
    """Wrap the phases of ingest with timers (totals over the run: seconds, calls)."""
    from synapse.services import ingest as ingest_service
    from synapse.services import rules_runner

    totals: dict[str, list[float]] = {}

    def wrap(module: object, attr: str, name: str) -> None:
        real = getattr(module, attr)
        totals[name] = [0.0, 0]

        def timed(*args: object, **kwargs: object) -> object:
            began = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                totals[name][0] += time.perf_counter() - began
                totals[name][1] += 1
        setattr(module, attr, timed)

    wrap(ingest_service, "decode_envelope", "decode")
    wrap(ingest_service.lake_store, "append", "lake append (+ voice derived, guilds without rules)")
    wrap(ingest_service.ledger_store, "lock_member_pairs", "locks")
    wrap(ingest_service.directory, "apply_events", "directory")
    wrap(ingest_service.members, "refresh", "member cache")
    wrap(ingest_service.voice, "decide", "voice sessions (decide)")
    wrap(rules_runner, "load_context", "rules context")
    wrap(rules_runner, "facts_needed", "plan")
    wrap(rules_runner.loader, "load", "load (snapshot)")
    wrap(rules_runner, "state_for", "seed state")
    wrap(rules_runner.loop, "run", "run (pure loop)")
    wrap(ingest_service, "write", "write (changeset, voice sessions included)")
    return totals


_STATEMENTS = (("set_config('synapse.batch_posting', 'on'", "write: postings + derived events"),
               ("set_config('synapse.batch_posting', 'off'", "write: grants, fires, outbox, voice opened"),
               ("json_agg(json_build_array(w.user_id", "snapshot load"), ("INSERT INTO event_lake", "lake append"),
               ("INSERT INTO member_cache", "member cache"), ("FROM voice_sessions", "voice load"),
               ("pg_advisory_xact_lock", "locks"), ("rules_version", "rules fingerprint"))


def _statement_timers(engine: sa.Engine) -> dict[str, Any]:
    """Time every SQL statement while ``["on"]`` is true, by what it does (``["seconds"]``: label → seconds).
    The rest of a pass is Python: decoding, planning, the loop, building parameters, reading results."""
    timers: dict[str, Any] = {"on": False, "seconds": {}, "began": 0.0}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        timers["began"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if timers["on"]:
            label = next((name for part, name in _STATEMENTS if part in statement), "other")
            timers["seconds"][label] = timers["seconds"].get(label, 0.0) + time.perf_counter() - timers["began"]
    return timers


def for_guild(texts: list[str], guild: int) -> list[str]:
    """The same envelopes with every event moved to ``guild`` (each pass gets an empty lake of its own)."""
    return [encode_envelope([{**e, "guild_id": str(guild)} for e in json.loads(t)["events"]]) for t in texts]


if __name__ == "__main__":
    sys.exit(main())
