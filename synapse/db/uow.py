"""Database handles for entry points: what a router or command handler holds without knowing SQLAlchemy.

The HTTP routers (``synapse.api``) and the slash command handlers (``synapse.interactions``) never
import SQLAlchemy (an import-linter contract in ``pyproject.toml``). They receive a ``Conn``, an open
connection inside a unit of work opened here, and pass it unchanged to one service or read model;
they never call ``execute`` on it. ``Engine`` is the pool the composition root
(``synapse.bootstrap.container().engine``) builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, OperationalError

from synapse.errors import StorageError

Conn = Connection
DbEngine = Engine
# PostgreSQL refused a value the request models let through (a NUL byte in text, an out-of-range number):
# bad input, which the HTTP layer answers with 422.
InvalidValue = DataError


def invalid_value_reason(exc: DataError) -> str:
    """The first line of PostgreSQL's complaint, for the 422 message."""
    return str(exc.orig).splitlines()[0] if exc.orig else "invalid value"


@contextmanager
def unit_of_work(engine: Engine, *, read_only: bool = False) -> Iterator[Connection]:
    """One transaction (commit on return, roll back on raise); for pure reads an autocommit connection
    (no BEGIN/COMMIT round trips). A lost database becomes :class:`StorageError`, raised or not in the body."""
    try:
        if read_only:
            with engine.connect() as conn:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            with engine.begin() as conn:
                yield conn
    except OperationalError as exc:
        raise StorageError(str(exc.orig or exc).splitlines()[0]) from exc


@contextmanager
def reads(engine: Engine) -> Iterator[Connection]:
    """A connection for reads; whatever transaction it opened is rolled back when the block ends."""
    with engine.connect() as conn:
        yield conn


@contextmanager
def read_only_transaction(conn: Connection) -> Iterator[Connection]:
    """Run the block in a READ ONLY transaction and roll it back (a backtest writes nothing, provably)."""
    conn.execute(text("SET TRANSACTION READ ONLY"))
    try:
        yield conn
    finally:
        conn.rollback()
