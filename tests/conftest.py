"""Shared fixtures: a real PostgreSQL database per test, and a real Azurite per session.

- ``db_url``: a fresh database cloned from a migrated template (isolated per test).
- ``engine``: a SQLAlchemy engine on it.
- ``azurite``: a running Azurite (``.connection_string``; ``.stop()``/``.start()`` for fault tests).
- ``queue_name``: a unique queue name per test.

Tiers (tests/README.md): every test that uses one of ``SERVICE_FIXTURES`` (directly or through
another fixture) is marked ``integration`` here, at collection; tests that start services another
way carry the mark themselves. ``pytest -m "not integration"`` is the pure tier; with
``SYNAPSE_TEST_PURE=1`` the service helpers refuse to start anything, so a test that needs a
service but is not marked fails loudly instead of quietly starting one.
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

# Fixtures that start or need the real PostgreSQL or Azurite (pytest's fixture closure includes every
# fixture they depend on, so a fixture built on ``db_url`` or ``engine`` counts too).
SERVICE_FIXTURES = frozenset({"pg_template", "db_url", "engine", "azurite", "private_azurite"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def pytest_configure(config: pytest.Config) -> None:
    if services.pure_tier():
        # In-process paths to the embedded server (the CLI, Settings without a database URL) refuse too.
        from synapse.db import embedded

        embedded.start = services.refuse_embedded


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
