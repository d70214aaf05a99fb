"""Operations: /healthz for the probes, configuration from the environment, JSON logs."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import aiohttp
import pytest

from relay.config import load_config
from relay.context import GatewayStatus
from relay.health import HealthServer
from relay.spool import Spool
from relay.telemetry import Stats, configure_logging
from synapse.errors import ConfigError


def test_healthz_reports_gateway_and_spool_backlog(tmp_path: Path) -> None:
    """200 with the backlog while connected; 503 once the gateway has been down past the grace period."""
    async def go() -> list[tuple[int, dict]]:
        spool = Spool(tmp_path)
        spool.append(['{"v":1,"events":[]}'] * 3)
        gateway = GatewayStatus()
        health = HealthServer(gateway=gateway, spool=spool, stats=Stats(events_in=7), buffered=[1, 2],
                              grace=0.0)
        port = await health.start(0, host="127.0.0.1")
        seen = []
        async with aiohttp.ClientSession() as session:
            gateway.set(True)
            for _ in range(2):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    seen.append((response.status, await response.json()))
                gateway.set(False)
        await health.stop()
        return seen

    (ok, up), (down, body) = asyncio.run(go())
    assert ok == 200 and up["gateway_connected"] is True and up["status"] == "ok"
    assert up["spool_backlog"] == 3 and up["spool_bytes"] > 0 and up["buffered_events"] == 2
    assert up["counters"]["events_in"] == 7
    assert down == 503 and body["status"] == "gateway_down"


def test_config_reads_the_environment_and_refuses_unsafe_values() -> None:
    """Token required to run (not to dry-run); a dev fingerprint key is refused in production."""
    with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
        load_config({})
    config = load_config({"DISCORD_BOT_TOKEN": "t", "SYNAPSE_EVENTS_QUEUE": "q", "SYNAPSE_RELAY_SPOOL_DIR": "/s",
                          "SYNAPSE_RELAY_HEALTH_PORT": "9000", "SYNAPSE_RELAY_LINGER_MS": "50"})
    assert (config.events_queue, config.spool_dir, config.health_port) == ("q", Path("/s"), 9000)
    assert config.linger_seconds == 0.05 and config.storage_connection == "UseDevelopmentStorage=true"
    assert load_config({}, need_token=False).spool_dir == Path(".synapse/relay-spool")
    with pytest.raises(ConfigError, match="SYNAPSE_FINGERPRINT_KEY"):
        load_config({"DISCORD_BOT_TOKEN": "t", "SYNAPSE_ENV": "production"})
    with pytest.raises(ConfigError, match="SYNAPSE_RELAY_LINGER_MS"):
        load_config({"DISCORD_BOT_TOKEN": "t", "SYNAPSE_RELAY_LINGER_MS": "900"})


def test_logs_are_json_lines_with_fields_and_discord_debug_is_held_back() -> None:
    """One JSON object per record with extra fields; discord.* never logs at DEBUG (raw payloads)."""
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    try:
        logging.getLogger("relay.test").info("batch sent", extra={"events": 12})
        logging.getLogger("discord.gateway").debug("WebSocket Event: %s", {"content": "x"})
    finally:
        logging.getLogger().handlers.clear()
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["msg"] == "batch sent" and entry["events"] == 12 and entry["level"] == "INFO"


def test_missing_token_exits_with_a_clear_message() -> None:
    """``python -m relay`` without DISCORD_BOT_TOKEN stops at once (exit 2) and says which variable."""
    import os
    import subprocess
    import sys

    from synapse.config import PROJECT_ROOT

    env = {k: v for k, v in os.environ.items() if k != "DISCORD_BOT_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "relay"], capture_output=True, text=True, env=env,
                            cwd=PROJECT_ROOT, timeout=30)
    assert result.returncode == 2 and "DISCORD_BOT_TOKEN" in result.stderr


def test_an_event_breaking_the_contract_is_dropped_alone_and_reported_without_values() -> None:
    """One malformed event must not poison its batch: it is dropped, counted and logged by path only."""
    from relay.context import RelayContext
    from tests.relay import payloads as p
    from tests.relay.harness import KEY, run_frames

    [good] = [e for e in run_frames([p.guild_create(), p.message_create("hi")])
              if e["event_type"] == "message_create"]
    bad = {**good, "guild_id": "secret-not-a-snowflake"}
    got: list[dict] = []
    ctx = RelayContext(sink=got.append, fingerprint_key=KEY)
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        ctx.emit(bad)
        ctx.emit(good)
    finally:
        logging.getLogger().handlers.clear()
    assert got == [good] and ctx.stats.events_invalid == 1
    [entry] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["problems"] == ["guild_id: string_pattern_mismatch"]
    assert "secret" not in stream.getvalue()
