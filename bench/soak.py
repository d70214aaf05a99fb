"""Soak: a 10,000-member community at ten times its peak rate, through the whole local stack.

    .venv/bin/python bench/soak.py [--duration 180] [--members 10000] [--factor 10] [--workers 2] [--seed 7]

What runs (each its own process, as in Azure):

- this driver: the community simulator replayed through the relay's own delivery pipeline
  (``relay.pipeline.Pipeline`` → ``azure-storage-queue``, base64, batched by count/size/time), the
  fake Discord server (thread), a lag probe and a memory sampler;
- Azurite (a private instance, node);
- ``--workers`` local runners (``synapse dev``: the Functions app's queue triggers ``ingest`` and
  ``announce`` with the host's dequeue/poison semantics, and its timers, including the outbox sweep);
- PostgreSQL (the embedded server, a throwaway database).

The rate: the simulator's day for ``--members`` members is measured first; its busiest minute gives
the community's peak events/s; the soak sends ``--factor`` × that, in the simulated order (time
compressed), for ``--duration`` seconds.

Figures printed:

- events sent and found in the lake (each exactly once), throughput (committed events/s);
- end-to-end lag from the relay's enqueue (``Pipeline.put``) to the committed ledger (the moment the
  event's lake row — written in the same transaction as its ledger postings — becomes visible to a
  probe polling every 0.2 s): p50, p99, max;
- RSS of each process over time (sampled every 5 s; PostgreSQL: unique set size of the postmaster
  and this run's backends, since backends share the buffer pool), and growth between the first and the last
  third of the run after a one-minute warm-up;
- the end checks of the fault suite: lake exactly once, ``synapse ledger verify``, no announcement
  posted twice (nonces in the fake), nothing pending in the outbox.
Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
import sqlalchemy as sa

from synapse.config import PROJECT_ROOT

GUILD = 1_300_000_000_000_000_001
ANNOUNCEMENTS = "1300000000000000777"
SAMPLE_EVERY = 5.0
PROBE_EVERY = 0.2
RESCAN = 15.0
WARM_UP = 60.0  # seconds: imports, caches and connection pools fill up first


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=180.0, help="seconds of traffic (default 180)")
    ap.add_argument("--members", type=int, default=10_000)
    ap.add_argument("--factor", type=float, default=10.0, help="multiple of the community's peak rate")
    ap.add_argument("--workers", type=int, default=2, help="local runner processes (Functions instances)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--drain-timeout", type=float, default=300.0)
    ap.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return ap.parse_args()


# -- traffic -----------------------------------------------------------------------------------

def community_day(members: int, seed: int, end: datetime) -> tuple[list[dict[str, Any]], float]:
    """A simulated day (time-ordered) and its peak rate: the busiest minute's events per second."""
    from synapse.simulate.community import SimulationConfig, simulate

    events = simulate(SimulationConfig(seed=seed, guild_id=GUILD, members=members, days=1.0, end=end))
    events.sort(key=lambda e: e["occurred_at"])
    per_minute = Counter(e["occurred_at"][:16] for e in events)
    return events, max(per_minute.values()) / 60.0


def busiest_first(events: list[dict[str, Any]], needed: int) -> list[dict[str, Any]]:
    """``needed`` consecutive events starting at the busiest hour (wrapping round the day)."""
    per_hour = Counter(e["occurred_at"][:13] for e in events)
    start_hour = max(per_hour, key=lambda h: per_hour[h])
    start = next(i for i, e in enumerate(events) if e["occurred_at"][:13] == start_hour)
    ordered = events[start:] + events[:start]
    return ordered[:needed]


# -- processes ---------------------------------------------------------------------------------

class Sampler:
    """RSS of named processes every few seconds (a process's children included, e.g. postgres backends)."""

    def __init__(self) -> None:
        self.procs: dict[str, list[psutil.Process]] = {}
        self.samples: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")
        self.started = time.monotonic()
        self.postgres: Any = None  # () -> list[psutil.Process]

    def add(self, name: str, pid: int) -> None:
        self.procs[name] = [psutil.Process(pid)]

    def sample(self) -> None:
        now = time.monotonic() - self.started
        groups = dict(self.procs)
        if self.postgres is not None:
            groups["postgres (postmaster + this run's backends, USS)"] = self.postgres()
        for name, procs in groups.items():
            total = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    # Backends share PostgreSQL's buffers: count each one's own pages (USS), not RSS.
                    total += p.memory_full_info().uss if name.startswith("postgres") else p.memory_info().rss
            if total:
                self.samples[name].append((now, total))

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            self.sample()

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()


def postgres_processes(engine: sa.Engine, database: str) -> Any:
    def find() -> list[psutil.Process]:
        with engine.connect() as conn:
            pids = [int(r[0]) for r in conn.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database})]
        procs = []
        for pid in pids:
            try:
                p = psutil.Process(pid)
                procs.append(p)
            except psutil.Error:
                pass
        if procs:
            with contextlib.suppress(psutil.Error):
                procs.insert(0, procs[0].parent())
        return procs
    return find


# -- the run -----------------------------------------------------------------------------------

def main() -> int:
    args = parse()
    os.environ.setdefault("SYNAPSE_ENV", "development")
    from synapse.admin import settings as guild_settings
    from synapse.admin.audit import SYSTEM
    from synapse.db.engine import make_engine
    from synapse.services.guild_init import init_guild
    from tests.support import services
    from tests.support.fake_discord import FakeDiscord

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    t = time.monotonic()
    day, peak = community_day(args.members, args.seed, end)
    rate = peak * args.factor
    needed = int(rate * args.duration)
    traffic = busiest_first(day, needed)
    print(f"community: {args.members} members, {len(day)} events in a simulated day "
          f"(simulated in {time.monotonic() - t:.0f} s); peak {peak:.2f} events/s (busiest minute)")
    print(f"soak: {args.factor:g} x peak = {rate:.1f} events/s for {args.duration:.0f} s = {len(traffic)} events, "
          f"{args.workers} runner processes")

    services.build_template()
    database = services.create_test_database()
    url = services.server_url(database)
    engine = make_engine(url, pool_size=3)
    admin_engine = services.admin_engine()
    with engine.begin() as conn:
        init_guild(conn, GUILD, name="Soak")
        guild_settings.update(conn, GUILD, {"announcements_channel_id": ANNOUNCEMENTS}, actor=SYSTEM)

    azurite = services.Azurite()
    azurite.start()
    fake = FakeDiscord().start()
    env = {**os.environ, "SYNAPSE_ENV": "development", "SYNAPSE_DATABASE_URL": url,
           "AzureWebJobsStorage": azurite.connection_string, "SYNAPSE_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(PROJECT_ROOT), **fake.env()}
    logs = Path(tempfile.mkdtemp(prefix="soak-logs-"))
    runners: list[subprocess.Popen[bytes]] = []
    sampler = Sampler()
    failures: list[str] = []
    try:
        for i in range(args.workers):
            log = open(logs / f"runner{i}.log", "wb")  # noqa: SIM115 - closed with the process
            runners.append(subprocess.Popen(
                [str(PROJECT_ROOT / ".venv/bin/synapse"), "dev", "--port", str(services.free_port())],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT))
        sampler.add("driver (simulator, relay pipeline, fake Discord)", os.getpid())
        assert azurite.process is not None
        sampler.add("azurite", azurite.process.pid)
        for i, r in enumerate(runners):
            sampler.add(f"runner {i} (synapse dev: ingest, announce, timers)", r.pid)
        sampler.postgres = postgres_processes(admin_engine, database)
        time.sleep(5)  # runners import the app and start polling
        for r in runners:
            if r.poll() is not None:
                raise RuntimeError(f"a runner exited at start: see {logs}")
        sampler.start()

        put_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        probe_stop = threading.Event()

        def probe() -> None:
            # Lake ids are taken at insert but become visible at commit, out of order across workers:
            # rescan from the highest id seen RESCAN seconds ago, so a late commit is never skipped.
            highest, marks = 0, [(time.monotonic(), 0)]
            while not probe_stop.is_set():
                now = time.monotonic()
                while len(marks) > 1 and marks[1][0] <= now - RESCAN:
                    marks.pop(0)
                with engine.connect() as conn:
                    rows = conn.execute(sa.text("""
                        SELECT id, source_event_id FROM event_lake
                         WHERE guild_id = :g AND source_system = 'discord' AND id > :low"""),
                        {"g": GUILD, "low": marks[0][1]}).all()
                now = time.monotonic()
                for r in rows:
                    seen_at.setdefault(r.source_event_id, now)
                    highest = max(highest, int(r.id))
                marks.append((now, highest))
                probe_stop.wait(PROBE_EVERY)

        prober = threading.Thread(target=probe, daemon=True, name="lag-probe")
        prober.start()
        relay_stats = asyncio.run(send(traffic, rate, azurite.connection_string, put_at))
        sent_done = time.monotonic()
        print(f"sent {len(put_at)} events in {sent_done - sampler.started:.0f} s "
              f"({relay_stats['batches']} queue messages, {relay_stats['spooled']} spooled)")

        deadline = time.monotonic() + args.drain_timeout
        while len(seen_at) < len(put_at) and time.monotonic() < deadline:
            time.sleep(0.5)
        drained = time.monotonic()
        # The outbox: the runners' announce trigger and their sweep timer (every minute) finish it.
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                pending = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar_one()
            if not pending:
                break
            time.sleep(1)
        probe_stop.set()
        prober.join(timeout=10)
        sampler.stop()

        # -- figures -------------------------------------------------------------------------
        lags = sorted(seen_at[k] - put_at[k] for k in put_at if k in seen_at)
        first_put = min(put_at.values())
        committed_rate = len(seen_at) / max(1e-9, max(seen_at.values()) - first_put) if seen_at else 0.0
        print(f"\nthroughput: {len(seen_at)} events committed, {committed_rate:.1f} events/s "
              f"(offered {rate:.1f}/s); lake caught up {drained - sent_done:.1f} s after the last send")
        if lags:
            q = statistics.quantiles(lags, n=100, method="inclusive")
            print(f"lag enqueue -> committed ledger: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms, "
                  f"max {lags[-1] * 1000:.0f} ms (probe resolution {PROBE_EVERY * 1000:.0f} ms)")
        print("\nmemory (RSS, MiB) over time:")
        for name, samples in sampler.samples.items():
            values = [v / 2**20 for _, v in samples]
            warm = [v for (t, _), v in zip(samples, values, strict=True) if t >= WARM_UP] or values
            third = max(1, len(warm) // 3)
            head, tail = statistics.median(warm[:third]), statistics.median(warm[-third:])
            growth = tail - head
            trace = " ".join(f"{v:.0f}" for v in values[:: max(1, len(values) // 12)])
            flag = "ok" if growth <= max(25.0, 0.15 * head) else "GROWING"
            print(f"  {name}: first third {head:.0f}, last third {tail:.0f}, growth {growth:+.0f} [{flag}]"
                  f"\n      samples every {SAMPLE_EVERY:.0f} s: {trace}")
            if flag != "ok":
                failures.append(f"memory growth in {name}: {growth:+.0f} MiB")

        # -- the end checks (those of the fault suite) --------------------------------------
        failures += end_checks(engine, fake, put_at, env)
        with engine.connect() as conn:
            totals = conn.execute(sa.text("""
                SELECT (SELECT count(*) FROM transactions WHERE guild_id = :g) AS tx,
                       (SELECT count(*) FROM wallets WHERE guild_id = :g) AS wallets,
                       (SELECT count(*) FROM user_milestones WHERE guild_id = :g) AS milestones,
                       (SELECT count(*) FROM outbox WHERE guild_id = :g) AS outbox"""), {"g": GUILD}).one()
        print(f"\nledger: {totals.tx} transactions, {totals.wallets} wallets, {totals.milestones} milestones; "
              f"{totals.outbox} outbox rows; {len(fake.messages)} Discord messages, "
              f"{len(fake.role_changes)} role changes")
    finally:
        for r in runners:
            r.terminate()
        for r in runners:
            try:
                r.wait(timeout=20)
            except subprocess.TimeoutExpired:
                r.kill()
        fake.stop()
        azurite.cleanup()
        engine.dispose()
        admin_engine.dispose()
        if not args.keep:
            services.drop_test_database(database)
        else:
            print(f"kept database {database}: {url}")
    print(f"\nrunner logs: {logs}")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nall checks passed")
    return 0


async def send(traffic: list[dict[str, Any]], rate: float, connection: str,
               put_at: dict[str, float]) -> dict[str, int]:
    """Hand events to the relay's delivery pipeline at ``rate`` events/s, in order."""
    from relay.pipeline import Pipeline
    from relay.sender import QueueTransport
    from synapse.queues import queue_client

    transport = QueueTransport(queue_client("synapse-events", connection=connection), timeout=5.0)
    await asyncio.to_thread(transport.ensure_blocking)
    spool = Path(tempfile.mkdtemp(prefix="soak-spool-"))
    pipeline = Pipeline(transport, spool)
    pipeline.start()
    began = time.monotonic()
    for i, event in enumerate(traffic):
        due = began + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        event = live(event)
        put_at[event["source_event_id"]] = time.monotonic()
        pipeline.put(event)
    await pipeline.stop(grace=30)
    return {"batches": pipeline.stats.batches_out, "spooled": pipeline.stats.events_spooled}


def live(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the relay would capture it now: ``occurred_at`` is the moment it is sent (keys that
    embed the time, voice and member events, follow), so sessions, cooldowns and timers see live traffic."""
    from synapse.simulate.community import iso

    old, new = event["occurred_at"], iso(datetime.now(UTC))
    return {**event, "occurred_at": new, "source_event_id": event["source_event_id"].replace(old, new)}


def end_checks(engine: sa.Engine, fake: Any, put_at: dict[str, float], env: dict[str, str]) -> list[str]:
    from synapse.db import ledger_store
    from synapse.services.announce import nonce_for

    failures: list[str] = []
    with engine.connect() as conn:
        found = Counter(dict(conn.execute(sa.text("""
            SELECT source_event_id, count(*) FROM event_lake
             WHERE guild_id = :g AND source_system = 'discord' GROUP BY source_event_id"""), {"g": GUILD}).all()))
        drifts = ledger_store.verify(conn, GUILD)
        outbox = Counter(dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM outbox WHERE guild_id = :g GROUP BY status"), {"g": GUILD}).all()))
        to_post = Counter(nonce_for(int(r.guild_id), str(r.dedupe_key)) for r in conn.execute(sa.text(
            "SELECT guild_id, dedupe_key FROM outbox WHERE guild_id = :g AND kind IN ('announce', 'message', 'dm') "
            "AND status = 'sent'"), {"g": GUILD}))
    sent = set(put_at)
    missing, extra = sent - set(found), set(found) - sent
    twice = [k for k, n in found.items() if n > 1]
    print(f"\nchecks: events sent {len(sent)}, found in the lake {len(found)} "
          f"(missing {len(missing)}, never sent {len(extra)}, more than once {len(twice)})")
    if missing or extra or twice:
        failures.append(f"lake: {len(missing)} missing, {len(extra)} unexpected, {len(twice)} duplicated")
    verify = subprocess.run([str(PROJECT_ROOT / ".venv/bin/synapse"), "ledger", "verify"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    print(f"synapse ledger verify: exit {verify.returncode}: {verify.stdout.strip().splitlines()[-1:] or ''}")
    if verify.returncode != 0 or drifts:
        failures.append(f"ledger verify failed ({len(drifts)} drifts): {verify.stdout[-300:]}")
    posted = Counter(m.get("nonce") for m in fake.messages)
    doubled = [n for n, c in posted.items() if c > 1]
    print(f"announcements: {sum(posted.values())} posted, {len(doubled)} posted twice; outbox {dict(outbox)}")
    if doubled or None in posted:
        failures.append(f"{len(doubled)} announcements posted twice")
    if set(outbox) - {"sent"}:
        failures.append(f"outbox not drained: {dict(outbox)}")
    if posted != to_post:
        failures.append(f"Discord messages ({sum(posted.values())}) differ from sent outbox rows "
                        f"({sum(to_post.values())})")
    return failures


if __name__ == "__main__":
    sys.exit(main())
