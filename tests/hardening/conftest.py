"""Fixtures for the hardening suite (issue 10): hostile input and fault injection, end to end.

- ``iworld``: the interactions endpoint served exactly as in production (``functions.http.lazy_asgi_app``,
  which routes ``/api/interactions`` to the bare ASGI fast path), on a fresh real PostgreSQL, with a
  generated Ed25519 key (``tests.interactions.conftest.World`` helpers: ``send``, ``post_raw``, ``sql``).
- ``fake_discord``: the shared fake Discord server.
- ``private_azurite``: an Azurite of the test's own, for tests that stop and restart it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from nacl.signing import SigningKey

from synapse.admin.audit import SYSTEM
from synapse.bootstrap import Container, set_container
from synapse.clock import FixedClock
from synapse.config import load_settings
from synapse.services.guild_init import init_guild
from tests.interactions import payloads as p
from tests.interactions.conftest import GUILD, NOW, World
from tests.support import services
from tests.support.fake_discord import fake_discord  # noqa: F401  (the shared fixture)


@pytest.fixture
def iworld(db_url: str, azurite: Any, queue_name: str) -> Iterator[World]:
    from functions.http import lazy_asgi_app

    key = SigningKey.generate()
    clock = FixedClock(NOW)
    settings = load_settings(environment="test", discord_public_key=key.verify_key.encode().hex(),
                             discord_application_id=p.APP_ID, storage_connection=azurite.connection_string,
                             followup_queue=queue_name)
    container = Container(settings, clock=clock, database_url=db_url)
    set_container(container)
    with container.engine.begin() as conn:
        init_guild(conn, GUILD, name="Test guild", actor=SYSTEM)
    try:
        client = TestClient(lazy_asgi_app, raise_server_exceptions=False)
        yield World(client, container.engine, clock, key, settings)
    finally:
        set_container(None)
        container.close()


@pytest.fixture
def private_azurite() -> Iterator[Any]:
    instance = services.Azurite()
    instance.start()
    try:
        yield instance
    finally:
        instance.cleanup()
