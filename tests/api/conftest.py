"""Fixtures for the dashboard API: a real PostgreSQL per test, the real app, a fixed clock.

- ``api``: an :class:`Api` with ``.client`` (a TestClient on ``create_app()``), ``.engine``,
  ``.clock`` and helpers to log in and to seed data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from synapse.admin import currencies, modules, settings
from synapse.bootstrap import Container, set_container
from synapse.clock import FixedClock
from synapse.config import Settings, load_settings
from synapse.db.ledger_store import post
from synapse.ledger.model import Kind, Posting
from tests.support.fake_discord import fake_discord  # noqa: F401  (the shared fixture)

GUILD = 789000000000000001
OTHER = 789000000000000002
ADMIN = 42
NOW = datetime(2025, 3, 12, 15, 30, tzinfo=UTC)  # a Wednesday
SECRET = "test-secret-" + "x" * 32
ORIGIN = "https://dash.example"


@dataclass
class Api:
    client: TestClient
    engine: sa.Engine
    clock: FixedClock
    settings: Settings

    def token(self, user_id: int = ADMIN, guilds: tuple[int, ...] = (GUILD,)) -> str:
        r = self.client.post("/api/auth/test-login", json={"user_id": str(user_id),
                                                           "guilds": [str(g) for g in guilds]})
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def auth(self, user_id: int = ADMIN, guilds: tuple[int, ...] = (GUILD,)) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, guilds)}"}

    def sql(self, query: str, **params: Any) -> list[Any]:
        with self.engine.begin() as conn:
            result = conn.execute(sa.text(query), params)
            return list(result.all()) if result.returns_rows else []

    def award(self, user_id: int, amount: int, currency: str = "xp", guild: int = GUILD, key: str = "") -> None:
        with self.engine.begin() as conn:
            post(conn, [Posting(guild_id=guild, user_id=user_id, currency=currency, amount=amount,
                                kind=Kind.admin_award, idempotency_key=key or f"seed:{user_id}:{currency}:{amount}",
                                occurred_at=self.clock.now())])

    def member(self, user_id: int, name: str, *, guild: int = GUILD, opt_out: bool = False,
               joined_at: datetime | None = None, roles: list[int] | None = None) -> None:
        self.sql("""INSERT INTO member_cache (guild_id, user_id, display_name, public_opt_out, joined_at, roles)
                    VALUES (:g, :u, :n, :o, :j, :r)""", g=guild, u=user_id, n=name, o=opt_out,
                 j=joined_at, r=roles or [])

    def admin_log(self, guild: int = GUILD) -> list[Any]:
        return self.sql("SELECT * FROM admin_log WHERE guild_id = :g AND action <> 'guild.init' ORDER BY id",
                        g=guild)


def install_guild(conn: sa.Connection, guild_id: int, name: str) -> None:
    """The Foundation defaults of a new guild (currencies, modules, settings), without the rule pack."""
    conn.execute(sa.text("INSERT INTO guilds (guild_id, name) VALUES (:g, :n)"), {"g": guild_id, "n": name})
    currencies.install_defaults(conn, guild_id)
    modules.install_defaults(conn, guild_id)
    settings.install_defaults(conn, guild_id)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"environment": "test", "test_login": True, "jwt_secret": SECRET,
                              "dashboard_origin": ORIGIN, "discord_client_id": "cid",
                              "discord_client_secret": "csecret"}
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def make_api(db_url: str) -> Iterator[Any]:
    made: list[Container] = []

    def build(**overrides: Any) -> Api:
        from synapse.api.app import create_app
        from synapse.services.queries import clear_caches

        clear_caches()
        cfg = make_settings(**overrides)
        clock = FixedClock(NOW)
        c = Container(cfg, clock=clock, database_url=db_url)
        made.append(c)
        set_container(c)
        with c.engine.begin() as conn:
            for gid, name in [(GUILD, "Test Guild"), (OTHER, "Other Guild")]:
                install_guild(conn, gid, name)
        return Api(TestClient(create_app(), raise_server_exceptions=True), c.engine, clock, cfg)

    yield build
    set_container(None)
    for c in made:
        c.close()


@pytest.fixture
def api(make_api: Any) -> Api:
    return make_api()  # type: ignore[no-any-return]
