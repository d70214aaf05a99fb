"""Shared fixtures: a real PostgreSQL database per test, and a real Azurite per session.

- ``db_url``: a fresh database cloned from a migrated template (isolated per test).
- ``engine``: a SQLAlchemy engine on it.
- ``azurite``: a running Azurite (``.connection_string``; ``.stop()``/``.start()`` for fault tests).
- ``queue_name``: a unique queue name per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from synapse.db.engine import make_engine
from tests.support import services

os.environ.setdefault("SYNAPSE_ENV", "test")


@pytest.fixture(scope="session")
def pg_template() -> str:
    services.build_template()
    return services.TEMPLATE_DB


@pytest.fixture
def db_url(pg_template: str) -> Iterator[str]:
    name = services.create_test_database()
    yield services.server_url(name)
    services.drop_test_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url, pool_size=10)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def azurite() -> Iterator[services.Azurite]:
    instance = services.Azurite()
    instance.start()
    yield instance
    instance.cleanup()


@pytest.fixture
def queue_name() -> str:
    return f"q{uuid.uuid4().hex[:20]}"
