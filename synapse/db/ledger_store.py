"""PostgreSQL side of the Ledger: post transactions, read balances, verify the invariant.

The wallet arithmetic itself happens in the database (``0002_ledger_invariants``):
one ``INSERT … RETURNING`` posts a batch, skips keys already posted, and returns
``balance_after`` for the rows really written. Pure code checks postings first
(``synapse.ledger.posting``); the database checks again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from synapse.errors import Drift, InsufficientBalance, NotFound
from synapse.ledger.curves import LevelCurve, PolynomialCurve
from synapse.ledger.model import Currency, Posted, Posting

_CURVE_ADAPTER: Any = None


def _curve(spec: dict[str, Any]) -> LevelCurve:
    global _CURVE_ADAPTER
    if _CURVE_ADAPTER is None:
        from pydantic import TypeAdapter

        from synapse.ledger.curves import CurveSpec

        _CURVE_ADAPTER = TypeAdapter(CurveSpec)
    return LevelCurve(_CURVE_ADAPTER.validate_python(spec or PolynomialCurve().model_dump()))


def currency_from_row(row: Any) -> Currency:
    return Currency(guild_id=row.guild_id, key=row.key, name=row.name, symbol=row.symbol,
                    levelled=row.levelled, curve=_curve(row.curve), seasonal=row.seasonal,
                    allow_negative=row.allow_negative, visible=row.visible)


def load_currencies(conn: Connection, guild_id: int) -> dict[str, Currency]:
    rows = conn.execute(text("SELECT * FROM currencies WHERE guild_id = :g ORDER BY position, key"),
                        {"g": guild_id})
    return {row.key: currency_from_row(row) for row in rows}


def get_currency(conn: Connection, guild_id: int, key: str) -> Currency:
    currency = load_currencies(conn, guild_id).get(key)
    if currency is None:
        raise NotFound(f"no currency {key!r} in guild {guild_id}",
                       hint="list currencies with /api/guilds/{guild}/currencies or create it first")
    return currency


# unnest yields the keys in order, so the locks are taken in the order given; the same round trip takes
# the transaction id.
_LOCK = text("SELECT pg_current_xact_id(), "
             "(SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k)")


def lock_member_pairs(conn: Connection, pairs: Iterable[tuple[int, int | None]]) -> None:
    """Serialise work on these (guild, member) pairs until commit, in one round trip.

    The keys are taken in one global order (sorted by digest), so two workers never deadlock. The
    same statement takes the transaction id, even for no pairs: the rollup watermark relies on every
    writer of lake rows holding one before its first insert (see ``services/rollups.py``).
    """
    digests = sorted({hashlib.blake2b(f"{g}:{u}".encode(), digest_size=8).digest()
                      for g, u in pairs if u is not None})
    conn.execute(_LOCK, {"keys": [int.from_bytes(d, "big", signed=True) for d in digests]})


def lock_members(conn: Connection, guild_id: int, user_ids: Iterable[int | None]) -> None:
    """``lock_member_pairs`` for members of one guild (no statement when there are none)."""
    pairs = [(guild_id, u) for u in user_ids if u is not None]
    if pairs:
        lock_member_pairs(conn, pairs)


_INSERT = text("""
INSERT INTO transactions (guild_id, user_id, currency_key, amount, kind, idempotency_key, reason,
                          rule_id, rule_version, event_id, event_type, actor_id, season_id, occurred_at, meta)
SELECT * FROM unnest(
    CAST(:guild_id AS bigint[]), CAST(:user_id AS bigint[]), CAST(:currency AS text[]),
    CAST(:amount AS bigint[]), CAST(:kind AS text[]), CAST(:key AS text[]), CAST(:reason AS text[]),
    CAST(:rule_id AS bigint[]), CAST(:rule_version AS int[]), CAST(:event_id AS bigint[]),
    CAST(:event_type AS text[]), CAST(:actor_id AS bigint[]), CAST(:season_id AS int[]),
    CAST(:occurred_at AS timestamptz[]), CAST(:meta AS jsonb[]))
RETURNING id, idempotency_key, balance_after
""")


def posting_columns(postings: Sequence[Posting]) -> dict[str, list[Any]]:
    """The postings as the column arrays the ``unnest`` inserts take."""
    return {
        "guild_id": [p.guild_id for p in postings],
        "user_id": [p.user_id for p in postings],
        "currency": [p.currency for p in postings],
        "amount": [p.amount for p in postings],
        "kind": [str(p.kind) for p in postings],
        "key": [p.idempotency_key for p in postings],
        "reason": [p.reason for p in postings],
        "rule_id": [p.rule_id for p in postings],
        "rule_version": [p.rule_version for p in postings],
        "event_id": [p.event_id for p in postings],
        "event_type": [p.meta.get("event_type") for p in postings],
        "actor_id": [p.actor_id for p in postings],
        "season_id": [p.season_id for p in postings],
        "occurred_at": [p.occurred_at for p in postings],
        "meta": [json.dumps(p.meta) for p in postings],
    }


def post(conn: Connection, postings: Sequence[Posting]) -> list[Posted]:
    """Write postings in order; return those really posted (a key seen before is skipped)."""
    if not postings:
        return []
    columns = posting_columns(postings)
    try:
        with conn.begin_nested():
            rows = conn.execute(_INSERT, columns).all()
    except IntegrityError as exc:
        _raise_translated(exc, postings, conn)
        raise
    by_key = {p.idempotency_key: p for p in postings}
    return [Posted(by_key[r.idempotency_key], r.id, r.balance_after) for r in rows]


def _raise_translated(exc: IntegrityError, postings: Sequence[Posting], conn: Connection) -> None:
    message = str(exc.orig)
    if "ck_wallets_no_negative" in message:
        # Find the first posting that cannot be afforded, to name it.
        for p in postings:
            if p.amount < 0:
                balance = balances(conn, p.guild_id, p.user_id).get(p.currency, 0)
                if balance + p.amount < 0:
                    raise InsufficientBalance(user_id=p.user_id, currency=p.currency,
                                              balance=balance, amount=p.amount) from None
        p = postings[0]
        raise InsufficientBalance(user_id=p.user_id, currency=p.currency, balance=0, amount=p.amount) from None
    if "unknown currency" in message or "fk_transactions" in message:
        raise NotFound(f"unknown currency in postings: {sorted({p.currency for p in postings})}") from None


def balances(conn: Connection, guild_id: int, user_id: int) -> dict[str, int]:
    rows = conn.execute(text("SELECT currency_key, balance FROM wallets WHERE guild_id = :g AND user_id = :u"),
                        {"g": guild_id, "u": user_id})
    return {r.currency_key: r.balance for r in rows}


def verify(conn: Connection, guild_id: int | None = None) -> list[Drift]:
    """Every wallet whose balance differs from the sum of its transactions (or that has none)."""
    rows = conn.execute(text("""
        WITH sums AS (
            SELECT guild_id, user_id, currency_key, SUM(amount)::bigint AS total
              FROM transactions WHERE (CAST(:g AS bigint) IS NULL OR guild_id = :g)
             GROUP BY guild_id, user_id, currency_key)
        SELECT COALESCE(w.guild_id, s.guild_id) AS guild_id, COALESCE(w.user_id, s.user_id) AS user_id,
               COALESCE(w.currency_key, s.currency_key) AS currency_key,
               COALESCE(w.balance, 0) AS balance, COALESCE(s.total, 0) AS total
          FROM (SELECT * FROM wallets WHERE (CAST(:g AS bigint) IS NULL OR guild_id = :g)) w
          FULL JOIN sums s USING (guild_id, user_id, currency_key)
         WHERE COALESCE(w.balance, 0) <> COALESCE(s.total, 0)
         ORDER BY 1, 2, 3"""), {"g": guild_id})
    return [Drift(r.guild_id, r.user_id, r.currency_key, r.balance, r.total) for r in rows]


def count_wallets(conn: Connection, guild_id: int | None = None) -> int:
    return int(conn.execute(text("SELECT count(*) FROM wallets WHERE (CAST(:g AS bigint) IS NULL OR guild_id = :g)"),
                            {"g": guild_id}).scalar_one())
