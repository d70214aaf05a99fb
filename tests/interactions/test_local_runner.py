"""End to end: signed interactions through ``synapse dev`` (the local runner), its queue poller included."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from synapse.admin.audit import SYSTEM
from synapse.config import PROJECT_ROOT
from synapse.db.engine import make_engine
from synapse.services.guild_init import init_guild
from tests.interactions import payloads as p
from tests.interactions.conftest import GUILD, reset, sign
from tests.support.fake_discord import FakeDiscord
from tests.support.services import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVE = p.user(53908232506183680, "eve")


def test_commands_and_followups_through_the_local_runner(module_db: str, azurite: Any,
                                                         fake: FakeDiscord) -> None:
    """PING, a bad signature, /leaderboard, /award twice and a deferred /privacy export, over real HTTP."""
    reset(module_db)
    engine = make_engine(module_db, pool_size=1)
    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    engine.dispose()
    key = SigningKey.generate()
    port = free_port()
    env = {**os.environ, "SYNAPSE_ENV": "development", "SYNAPSE_DATABASE_URL": module_db,
           "AzureWebJobsStorage": azurite.connection_string, "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
           **fake.env()}
    runner = subprocess.Popen([str(PROJECT_ROOT / ".venv/bin/synapse"), "dev", "--no-timers", "--port", str(port)],
                              env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        url = f"http://127.0.0.1:{port}/api/interactions"

        def send(payload: dict[str, Any]) -> httpx.Response:
            body = httpx.Request("POST", url, json=payload).content
            now = str(int(time.time()))   # the runner's clock is the system clock (replay window)
            return httpx.post(url, content=body, timeout=30, headers={
                "content-type": "application/json", "X-Signature-Ed25519": sign(key, now, body),
                "X-Signature-Timestamp": now})

        assert send(p.ping()).json() == {"type": 1}
        assert httpx.post(url, content=b'{"type": 1}', headers={"X-Signature-Ed25519": "00" * 64,
                                                                "X-Signature-Timestamp": "1"}).status_code == 401
        admin = p.member(EVE, permissions="8")
        award = p.command("award", admin, [p.user_opt("member", EVE["id"]), p.opt("currency", "gold"),
                                           p.opt("amount", 5, 4), p.opt("reason", "smoke")],
                          resolved_data=p.resolved(EVE))
        assert send(award).json()["data"]["content"].endswith("balance 5")
        assert "already applied" in send(award).json()["data"]["content"]
        board = send(p.command("leaderboard", admin, [p.opt("currency", "gold")])).json()
        assert board["data"]["embeds"][0]["description"].startswith(f"**#1** <@{EVE['id']}> — 5")
        export = p.command("privacy", admin, [p.sub("export")])
        assert send(export).json() == {"type": 5, "data": {"flags": 64}}
        deadline = time.monotonic() + 30   # the runner's poller (another process) picks the job up every ~1 s
        while time.monotonic() < deadline and export["token"] not in fake.interaction_responses:
            time.sleep(0.1)
        assert fake.uploads and fake.uploads[0]["filename"].endswith(".json")
    finally:
        runner.terminate()
        runner.wait(timeout=20)


def _wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)  # the local runner, a process of its own, coming up: polled, with a deadline
    raise AssertionError("the local runner did not start")
