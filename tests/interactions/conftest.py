"""Fixtures for slash-command tests: the real app (TestClient) on a real PostgreSQL, signed requests.

- ``world``: a :class:`World`: ``send(payload)`` signs the body with a generated Ed25519 key
  (``nacl.signing.SigningKey``) and POSTs it to ``/api/interactions``; the guild is initialised
  (default currencies xp/stars/gold, modules, settings); the clock is fixed.
- ``queued_world``: the same, plus Azurite (the follow-up queue) and the fake Discord server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from nacl.signing import SigningKey

from synapse.admin.audit import SYSTEM
from synapse.bootstrap import Container, set_container
from synapse.clock import FixedClock
from synapse.config import Settings, load_settings
from synapse.db.ledger_store import post
from synapse.ledger.model import Kind, Posting
from synapse.services.guild_init import init_guild
from tests.interactions import payloads as p
from tests.support import services
from tests.support.fake_discord import FakeDiscord

NOW = datetime(2025, 3, 12, 15, 30, tzinfo=UTC)
GUILD = int(p.GUILD)
TIMESTAMP = "1741793400"


def sign(key: SigningKey, timestamp: str, body: bytes) -> str:
    return key.sign(timestamp.encode() + body).signature.hex()


@dataclass
class World:
    client: TestClient
    engine: sa.Engine
    clock: FixedClock
    key: SigningKey
    settings: Settings
    fake: FakeDiscord | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def post_raw(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post("/api/interactions", content=body,
                                headers={"content-type": "application/json", **headers})

    def send(self, payload: Any) -> httpx.Response:
        body = json.dumps(payload).encode()
        return self.post_raw(body, {"X-Signature-Ed25519": sign(self.key, TIMESTAMP, body),
                                    "X-Signature-Timestamp": TIMESTAMP})

    def ok(self, payload: Any) -> dict[str, Any]:
        response = self.send(payload)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def sql(self, query: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(sa.text(query), params)
            return list(result.all()) if result.returns_rows else []

    def scalar(self, query: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(sa.text(query), params).scalar()

    def seed_member(self, user_id: int, name: str, **amounts: int) -> None:
        """A member with a cache row and rule credits (``xp=120, stars=3``)."""
        with self.engine.begin() as conn:
            conn.execute(sa.text("""
                INSERT INTO member_cache (guild_id, user_id, display_name) VALUES (:g, :u, :n)
                ON CONFLICT DO NOTHING"""), {"g": GUILD, "u": user_id, "n": name})
            rule_id = conn.execute(sa.text("SELECT min(rule_id) FROM rules WHERE guild_id = :g"),
                                   {"g": GUILD}).scalar()
            postings = [Posting(guild_id=GUILD, user_id=user_id, currency=currency, amount=amount,
                                kind=Kind.rule, idempotency_key=f"seed:{user_id}:{currency}:{i}",
                                occurred_at=self.clock.now(), reason="seed", rule_id=rule_id,
                                meta={"event_type": "message_create"})
                        for i, (currency, amount) in enumerate(amounts.items()) if amount]
            post(conn, postings)

    def balance(self, user_id: int, currency: str) -> int | None:
        return self.scalar("SELECT balance FROM wallets WHERE guild_id = :g AND user_id = :u AND currency_key = :c",
                           g=GUILD, u=user_id, c=currency)


def _world(db_url: str, **overrides: Any) -> Iterator[World]:
    from synapse.api.app import create_app

    key = SigningKey.generate()
    clock = FixedClock(NOW)
    values: dict[str, Any] = {"environment": "test", "discord_public_key": key.verify_key.encode().hex(),
                              "discord_application_id": p.APP_ID, **overrides}
    settings = load_settings(**values)
    container = Container(settings, clock=clock, database_url=db_url)
    set_container(container)
    with container.engine.begin() as conn:
        init_guild(conn, GUILD, name="Test guild", actor=SYSTEM)
    try:
        with TestClient(create_app(), raise_server_exceptions=False) as client:
            yield World(client, container.engine, clock, key, settings)
    finally:
        set_container(None)


@pytest.fixture(scope="module")
def module_db(pg_template: str) -> Iterator[str]:
    """One database per test module; :func:`reset` empties it before each test (much cheaper than
    creating and dropping a database per test on a busy server)."""
    name = services.create_test_database()
    try:
        yield services.server_url(name)
    finally:
        services.drop_test_database(name)


def reset(url: str) -> None:
    """Empty every table. The append-only triggers refuse deletes, so they are off for this one
    transaction (``session_replication_role = replica``); the next test starts from a fresh guild."""
    from synapse.db.engine import sqlalchemy_url

    engine = sa.create_engine(sqlalchemy_url(url), poolclass=sa.NullPool)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        # DELETE, not TRUNCATE: the tables hold a few rows, and TRUNCATE pays file operations per table.
        conn.execute(sa.text("; ".join(f"DELETE FROM {t}" for t in tables)))
    engine.dispose()


@pytest.fixture
def world(module_db: str) -> Iterator[World]:
    reset(module_db)
    yield from _world(module_db)


@pytest.fixture(scope="module")
def shared_world(pg_template: str) -> Iterator[World]:
    """One world for a whole module of tests that never write (signatures, malformed bodies)."""
    name = services.create_test_database()
    try:
        yield from _world(services.server_url(name))
    finally:
        services.drop_test_database(name)


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    instance = FakeDiscord()
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def queued_world(module_db: str, azurite: Any, queue_name: str, fake: FakeDiscord) -> Iterator[World]:
    reset(module_db)
    for w in _world(module_db, storage_connection=azurite.connection_string, followup_queue=queue_name,
                    discord_api_base=fake.base_url, discord_bot_token=fake.bot_token):
        w.fake = fake
        w.extra["queue"] = queue_name
        w.extra["azurite"] = azurite
        yield w


def take_jobs(world: World) -> list[bytes]:
    """Receive (and delete) every message on the follow-up queue, as the trigger would get them."""
    from azure.storage.queue import QueueClient

    from synapse.queues import ensure_queue

    client = QueueClient.from_connection_string(world.extra["azurite"].connection_string, world.extra["queue"])
    ensure_queue(client)
    bodies = []
    for message in client.receive_messages(messages_per_page=32):
        bodies.append(base64.b64decode(message.content))
        client.delete_message(message)
    return bodies
