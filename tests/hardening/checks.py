"""The end-state checks every fault test ends with, and write detection and JSON paths for hostile-input tests.

After a fault: every event sent is in the lake exactly once, ``synapse ledger verify`` passes,
no announcement was posted twice (messages in the fake Discord counted by nonce), and nothing
that should have gone is left pending in the outbox.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from synapse.db import ledger_store
from synapse.eventlake.envelope import decode_envelope


def public_tables(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")))


def row_counts(engine: sa.Engine, tables: list[str]) -> dict[str, int]:
    """Rows per table in one round trip (a write anywhere changes this, or ``max_xmin`` below)."""
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t}) AS {t}" for t in tables)
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(sql)).mappings().one())


def write_fingerprint(engine: sa.Engine, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Per table: rows and the largest row version (xmin): an insert, update or delete changes it."""
    sql = " UNION ALL ".join(f"SELECT '{t}' AS tbl, count(*) AS n, coalesce(max(xmin::text::bigint), 0)::text AS x "
                             f"FROM {t}" for t in tables)
    with engine.connect() as conn:
        return {r.tbl: (int(r.n), r.x) for r in conn.execute(sa.text(sql))}


def event_ids(texts: Iterable[str]) -> list[str]:
    """Every source_event_id in these envelope texts (duplicates kept)."""
    return [e.source_event_id for t in texts for e in decode_envelope(t)]


def lake_ids(engine: sa.Engine, guild_id: int | None = None) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT source_event_id, count(*) AS n FROM event_lake
             WHERE source_system = 'discord' AND (CAST(:g AS bigint) IS NULL OR guild_id = :g)
             GROUP BY source_event_id"""), {"g": guild_id})
        return Counter({r.source_event_id: int(r.n) for r in rows})


def assert_lake_exactly_once(engine: sa.Engine, sent: Iterable[str], guild_id: int | None = None) -> int:
    """Every event sent is in the lake once; nothing else from Discord is. Returns how many."""
    expected = set(sent)
    found = lake_ids(engine, guild_id)
    missing = expected - set(found)
    extra = set(found) - expected
    twice = {k: n for k, n in found.items() if n != 1}
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert not extra, f"{len(extra)} events in the lake that were never sent, e.g. {sorted(extra)[:5]}"
    assert not twice, f"events stored more than once: {list(twice.items())[:5]}"
    return len(expected)


def assert_ledger_verified(engine: sa.Engine) -> int:
    """The invariant holds in SQL and through the CLI (``synapse ledger verify``); returns wallets."""
    with engine.connect() as conn:
        drifts = ledger_store.verify(conn)
        wallets = ledger_store.count_wallets(conn)
        dup = conn.execute(sa.text("""
            SELECT count(*) - count(DISTINCT (guild_id, idempotency_key)) FROM transactions""")).scalar_one()
    assert drifts == [], f"ledger drift: {drifts[:5]}"
    assert dup == 0, "an idempotency key was used twice"
    from typer.testing import CliRunner

    from synapse.cli import app

    result = CliRunner().invoke(app, ["ledger", "verify"])
    assert result.exit_code == 0, result.output
    assert "ledger verified" in result.output
    return wallets


def assert_posted_once(fake: Any) -> int:
    """No announcement appears twice in the fake Discord (by nonce, and by channel + content)."""
    messages = list(fake.messages)
    nonces = Counter(m.get("nonce") for m in messages)
    assert None not in nonces, "an announcement was posted without a nonce"
    twice = {n: c for n, c in nonces.items() if c > 1}
    assert not twice, f"posted twice: {list(twice.items())[:5]}"
    return len(messages)


def outbox_status(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(sa.text("SELECT status, count(*) FROM outbox GROUP BY status")).all()))


def assert_outbox_drained(engine: sa.Engine, fake: Any | None = None) -> Counter[str]:
    """Nothing pending; nothing failed; each sent Discord message row has exactly one message in the fake."""
    status = outbox_status(engine)
    with engine.connect() as conn:
        failures = conn.execute(sa.text(
            "SELECT id, kind, last_error FROM outbox WHERE status <> 'sent' LIMIT 5")).all()
    assert set(status) <= {"sent"}, f"outbox not drained: {dict(status)}; e.g. {failures}"
    if fake is not None:
        from synapse.services.announce import nonce_for

        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT guild_id, dedupe_key FROM outbox WHERE kind IN ('announce', 'message', 'dm')")).all()
        expected = Counter(nonce_for(int(r.guild_id), str(r.dedupe_key)) for r in rows)
        posted = Counter(m.get("nonce") for m in fake.messages)
        assert posted == expected, (f"{sum(expected.values())} rows to post, {sum(posted.values())} messages; "
                                    f"missing {list((expected - posted).items())[:3]}, "
                                    f"extra {list((posted - expected).items())[:3]}")
    return status


def end_checks(engine: sa.Engine, fake: Any, sent_ids: Iterable[str]) -> dict[str, int]:
    """The four promises after a fault, asserted; returns the figures."""
    events = assert_lake_exactly_once(engine, sent_ids)
    wallets = assert_ledger_verified(engine)
    posted = assert_posted_once(fake)
    status = assert_outbox_drained(engine, fake)
    return {"events": events, "wallets": wallets, "posted": posted, "outbox_sent": status["sent"]}


def json_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (keys and list indexes), the document itself (``()``) first."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += json_paths(v, (*prefix, i))
    return out
