"""Concurrent workers: caps and cooldowns hold when two transactions process the same member at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.db import lake_store, ledger_store
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import message, reaction
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

T0 = datetime(2025, 1, 15, 12, tzinfo=UTC)
GUILD = 99


def _race(engine: sa.Engine, batches: list[list[object]], *, appended: bool) -> None:
    """The batches in concurrent transactions (append, then ``process``: lock, decide, write), released
    together once all have ``appended`` their events, or else at their start (events of one member:
    the member's ``member_event_totals`` row serialises their appends until commit)."""
    barrier = threading.Barrier(len(batches))
    cache: RuleCache[object] = RuleCache()
    errors: list[BaseException] = []

    def worker(batch: list[object]) -> None:
        try:
            with engine.begin() as conn:
                if not appended:
                    barrier.wait(timeout=30)
                fresh = lake_store.append(conn, batch)  # type: ignore[arg-type]
                if appended:
                    barrier.wait(timeout=30)
                process(conn, fresh, rules=cache)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []


def test_two_workers_one_member_cooldown(engine: sa.Engine) -> None:
    """Messages of one member in two concurrent queue messages, a second apart: one XP credit per minute."""
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    a, b = [message(GUILD, 5, 1, T0)], [message(GUILD, 5, 2, T0 + timedelta(seconds=1))]
    _race(engine, [a, b], appended=False)
    with engine.connect() as conn:
        xp_credits = conn.execute(sa.text("SELECT count(*) FROM transactions WHERE guild_id = :g AND user_id = 5 "
                                          "AND currency_key = 'xp'"), {"g": GUILD}).scalar_one()
        assert xp_credits == 1
        assert ledger_store.verify(conn, GUILD) == []


def test_two_workers_both_appended_one_recipient_cap(engine: sa.Engine) -> None:
    """Twice 20 reactions to one member's message, both batches in the lake before either decides: stars stop
    at 25 (the member lock taken by ``process`` orders the two decisions)."""
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    a = [reaction(GUILD, 100 + i, 77, 6, T0 + timedelta(seconds=i)) for i in range(20)]
    b = [reaction(GUILD, 200 + i, 77, 6, T0 + timedelta(seconds=i)) for i in range(20)]
    _race(engine, [a, b], appended=True)
    with engine.connect() as conn:
        assert ledger_store.balances(conn, GUILD, 6)["stars"] == 25
        assert ledger_store.verify(conn, GUILD) == []
