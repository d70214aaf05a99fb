"""Member corrections under concurrency, on real PostgreSQL: a request retried on several workers at once
posts once; concurrent corrections and awards of one member serialise and keep the ledger verified."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from synapse.admin.audit import SYSTEM, Actor
from synapse.db import ledger_store
from synapse.services import member_admin
from synapse.services.awards import award
from synapse.services.guild_init import init_guild
from synapse.services.member_admin import Adjustment

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
GUILD = 98
USER = 5
ADMIN = Actor.user(42)


def _race(engine: sa.Engine, jobs: list[Callable[[sa.Connection], object]]) -> list[object]:
    barrier = threading.Barrier(len(jobs))
    results: list[object] = []
    errors: list[BaseException] = []

    def worker(job: Callable[[sa.Connection], object]) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT 1"))
                barrier.wait(timeout=30)
                results.append(job(conn))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    return results


def _set(balance: int, key: str) -> Callable[[sa.Connection], Adjustment]:
    return lambda conn: member_admin.set_balance(conn, GUILD, user_id=USER, currency="xp", balance=balance,
                                                 reason="fix", actor=ADMIN, request_key=key, at=T0)


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), {"g": GUILD}).scalar_one())


def test_one_request_on_four_workers_at_once_posts_one_correction(engine: sa.Engine) -> None:
    """The same request id on four concurrent transactions: one correction and one audit row; the
    three others wait for the member lock and report the first's outcome as repeated."""
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    results = _race(engine, [_set(500, "req-1")] * 4)
    assert sorted(r.repeated for r in results if isinstance(r, Adjustment)) == [False, True, True, True]
    assert len({r.audit_id for r in results if isinstance(r, Adjustment)}) == 1
    assert _count(engine, "SELECT count(*) FROM transactions WHERE guild_id = :g AND kind = 'correction'") == 1
    assert _count(engine, "SELECT count(*) FROM admin_log WHERE guild_id = :g AND action = 'member.set_balance'") == 1
    with engine.connect() as conn:
        assert ledger_store.balances(conn, GUILD, USER) == {"xp": 500}


def test_concurrent_corrections_and_awards_serialise_on_the_member(engine: sa.Engine) -> None:
    """Set-balance requests racing awards of the same member: every set lands exactly on its target
    when it runs (none is computed from a stale balance), and wallets equal their transactions."""
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    jobs: list[Callable[[sa.Connection], object]] = [_set(100 * (i + 1), f"set-{i}") for i in range(3)]
    jobs += [lambda conn, i=i: award(conn, GUILD, user_id=USER, currency="xp", amount=7, reason="bonus",
                                     actor=ADMIN, request_id=f"award-{i}", at=T0) for i in range(3)]
    results = _race(engine, jobs)
    sets = [r for r in results if isinstance(r, Adjustment)]
    assert len(sets) == 3 and all(not r.repeated for r in sets)
    with engine.connect() as conn:
        assert ledger_store.verify(conn, GUILD) == []
        rows = conn.execute(sa.text("""SELECT kind, amount, balance_after FROM transactions
                                        WHERE guild_id = :g ORDER BY id"""), {"g": GUILD}).all()
    targets = {100, 200, 300}
    for row in rows:
        if row.kind == "correction":
            assert row.balance_after in targets
    assert sum(r.amount for r in rows) == rows[-1].balance_after
