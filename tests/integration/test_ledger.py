"""The ledger keeps balance == SUM(transactions) under retries, refusals and concurrent writers."""

import random
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.db import ledger_store
from synapse.errors import InsufficientBalance
from synapse.ledger.model import Kind, Posting
from synapse.services.guild_init import init_guild

T0 = datetime(2025, 1, 15, tzinfo=UTC)
GUILD = 42


def _posting(user: int, amount: int, key: str, currency: str = "gold") -> Posting:
    return Posting(GUILD, user, currency, amount, Kind.admin_award, key, T0, reason="test")


@pytest.fixture
def guild(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
        conn.execute(sa.text("INSERT INTO currencies (guild_id, key, name, allow_negative) "
                             "VALUES (:g, 'karma', 'Karma', true)"), {"g": GUILD})
    return GUILD


def test_post_is_idempotent_by_key(engine: sa.Engine, guild: int) -> None:
    """Posting the same key twice credits once; balance_after follows the wallet."""
    with engine.begin() as conn:
        posted = ledger_store.post(conn, [_posting(1, 10, "a"), _posting(1, 5, "b")])
        assert [p.balance_after for p in posted] == [10, 15]
        assert ledger_store.post(conn, [_posting(1, 10, "a")]) == []
        assert ledger_store.balances(conn, guild, 1)["gold"] == 15
        assert ledger_store.verify(conn) == []


def test_negative_refused_where_forbidden(engine: sa.Engine, guild: int) -> None:
    """A debit below zero is refused for gold (nothing written) and allowed for karma."""
    with engine.begin() as conn:
        ledger_store.post(conn, [_posting(1, 10, "a")])
    with pytest.raises(InsufficientBalance) as info, engine.begin() as conn:
        ledger_store.post(conn, [_posting(1, -11, "b")])
    assert (info.value.balance, info.value.amount) == (10, -11)
    with engine.begin() as conn:
        assert ledger_store.balances(conn, guild, 1) == {"gold": 10}
        ledger_store.post(conn, [_posting(1, -7, "c", currency="karma")])
        assert ledger_store.balances(conn, guild, 1)["karma"] == -7


def test_transactions_and_wallets_cannot_be_edited(engine: sa.Engine, guild: int) -> None:
    """UPDATE/DELETE/TRUNCATE of transactions and direct wallet edits are refused by PostgreSQL."""
    with engine.begin() as conn:
        ledger_store.post(conn, [_posting(1, 10, "a")])
    for statement in ("UPDATE transactions SET amount = 99", "DELETE FROM transactions",
                      "TRUNCATE transactions", "UPDATE wallets SET balance = 1000",
                      "DELETE FROM wallets",
                      f"INSERT INTO wallets (guild_id, user_id, currency_key, balance) VALUES ({GUILD}, 9, 'gold', 5)"):
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
            conn.execute(sa.text(statement))
    with engine.connect() as conn:
        assert ledger_store.balances(conn, guild, 1) == {"gold": 10}
        assert ledger_store.verify(conn) == []


def test_zero_amount_and_unknown_kind_refused(engine: sa.Engine, guild: int) -> None:
    """The database refuses a zero amount and an unknown transaction kind."""
    for values in ("0, 'rule'", "5, 'gift'"):
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO transactions (guild_id, user_id, currency_key, amount, kind, idempotency_key, "
                f"occurred_at) VALUES ({GUILD}, 1, 'gold', {values}, 'k', now())"))


def test_verify_names_drifting_wallets(engine: sa.Engine, guild: int) -> None:
    """If a wallet is forced out of step (triggers off, as a buggy migration might), verify names it."""
    with engine.begin() as conn:
        ledger_store.post(conn, [_posting(7, 10, "a")])
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # disables triggers
        conn.execute(sa.text("UPDATE wallets SET balance = 11 WHERE user_id = 7"))
    with engine.connect() as conn:
        drifts = ledger_store.verify(conn)
    assert [(d.user_id, d.currency, d.balance, d.ledger_sum) for d in drifts] == [(7, "gold", 11, 10)]


def test_concurrent_writers_lose_nothing(engine: sa.Engine, guild: int) -> None:
    """8 writers post 10,000 transactions to 20 overlapping wallets: sums match, no negatives, no loss."""
    writers, per_writer, members = 8, 1250, 20
    accepted: list[list[int]] = [[] for _ in range(writers)]
    refused = [0] * writers
    errors: list[BaseException] = []

    def work(w: int) -> None:
        rng = random.Random(w)
        try:
            for i in range(per_writer):
                user = rng.randrange(members)
                amount = rng.choice([5, 10, 25, -15, -40])
                try:
                    with engine.begin() as conn:
                        posted = ledger_store.post(conn, [_posting(user, amount, f"w{w}-{i}")])
                    accepted[w].extend(p.posting.amount for p in posted)
                except InsufficientBalance:
                    refused[w] += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        assert ledger_store.verify(conn) == []
        total = conn.execute(sa.text("SELECT COALESCE(SUM(balance), 0), MIN(balance), count(*) FROM wallets "
                                     "WHERE currency_key = 'gold'")).one()
        rows = conn.execute(sa.text("SELECT count(*) FROM transactions")).scalar_one()
    assert sum(len(a) for a in accepted) + sum(refused) == writers * per_writer
    assert rows == sum(len(a) for a in accepted)
    assert total[0] == sum(sum(a) for a in accepted)
    assert total[1] >= 0
    assert sum(refused) > 0, "the workload should exercise refusals"


_BATCH = """INSERT INTO transactions (guild_id, user_id, currency_key, amount, balance_after, kind, idempotency_key,
                                      occurred_at) VALUES {rows}"""


def _batch_rows(*rows: tuple[int, int, int, str]) -> str:
    return ", ".join(f"({GUILD}, {u}, 'gold', {a}, {after}, 'rule', '{k}', now())" for u, a, after, k in rows)


def test_batch_mode_checks_the_predicted_chain(engine: sa.Engine, guild: int) -> None:
    """In batch mode PostgreSQL accepts predicted balances only if they chain from the wallet, and moves it once."""
    with engine.begin() as conn:
        ledger_store.post(conn, [_posting(1, 10, "seed")])
    bad_chains = [
        _batch_rows((1, 5, 16, "x1")),                         # does not follow the wallet (10)
        _batch_rows((1, 5, 15, "x1"), (1, 5, 21, "x2")),       # second row breaks the chain
        _batch_rows((1, -15, -5, "x1"), (1, 10, 5, "x2")),     # dips below zero on the way
    ]
    for rows in bad_chains:
        with pytest.raises(sa.exc.IntegrityError, match="does not follow"), engine.begin() as conn:
            conn.execute(sa.text("SELECT set_config('synapse.batch_posting', 'on', true)"))
            conn.execute(sa.text(_BATCH.format(rows=rows)))
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('synapse.batch_posting', 'on', true)"))
        conn.execute(sa.text(_BATCH.format(rows=_batch_rows((1, 5, 15, "y1"), (1, -3, 12, "y2"), (2, 7, 7, "y3")))))
    with engine.connect() as conn:
        assert ledger_store.balances(conn, guild, 1)["gold"] == 12
        assert ledger_store.balances(conn, guild, 2)["gold"] == 7
        assert ledger_store.verify(conn) == []


def test_the_row_trigger_runs_outside_batch_mode_only(engine: sa.Engine, guild: int) -> None:
    """Migration 0014: a plain insert still gets its balance_after from the row trigger (whatever it says),
    while in batch mode a wrong predicted balance_after is still refused by the statement trigger."""
    with engine.begin() as conn:
        ledger_store.post(conn, [_posting(3, 10, "plain-seed")])
        conn.execute(sa.text(_BATCH.format(rows=_batch_rows((3, 5, 999, "plain-next")))))
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT balance_after FROM transactions WHERE idempotency_key = 'plain-next'"))
        assert after.scalar_one() == 15
        assert ledger_store.balances(conn, guild, 3)["gold"] == 15
    with pytest.raises(sa.exc.IntegrityError, match="does not follow"), engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('synapse.batch_posting', 'on', true)"))
        conn.execute(sa.text(_BATCH.format(rows=_batch_rows((3, 5, 21, "batch-wrong")))))
    with engine.connect() as conn:
        assert ledger_store.balances(conn, guild, 3)["gold"] == 15
        assert ledger_store.verify(conn) == []
