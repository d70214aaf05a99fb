"""The relay's settings, read from the environment (names shared with ``local.settings.sample.json``).

The relay reads its few variables itself instead of importing ``synapse.config``:
its container carries only the envelope contract, the queue client and the
error tree, not the rest of Synapse and its dependencies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from synapse.errors import ConfigError

DEV_FINGERPRINT_KEY = "dev-fingerprint-key"
_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "placeholder", "xxx", "todo"})


@dataclass(frozen=True)
class RelayConfig:
    bot_token: str
    storage_connection: str
    queue_service_uri: str
    managed_identity_client_id: str
    events_queue: str
    fingerprint_key: bytes
    spool_dir: Path
    health_port: int
    linger_seconds: float
    buffer_events: int
    log_level: str
    production: bool


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def load_config(env: Mapping[str, str] | None = None, *, need_token: bool = True) -> RelayConfig:
    """Validate the environment; raise :class:`ConfigError` naming each bad variable."""
    env = os.environ if env is None else env
    production = env.get("SYNAPSE_ENV", "development").strip().lower() == "production"
    token = env.get("DISCORD_BOT_TOKEN", "").strip()
    if need_token and not token:
        raise ConfigError("DISCORD_BOT_TOKEN is not set", hint="the relay logs in to the gateway with it")
    key = env.get("SYNAPSE_FINGERPRINT_KEY", "") or DEV_FINGERPRINT_KEY
    if production and (key.lower() in _PLACEHOLDERS or key.startswith("dev-")):
        raise ConfigError("SYNAPSE_FINGERPRINT_KEY is a placeholder in production",
                          hint="set a random secret (Key Vault reference in Azure)")
    data_dir = env.get("SYNAPSE_DATA_DIR", "").strip() or ".synapse"
    spool = env.get("SYNAPSE_RELAY_SPOOL_DIR", "").strip() or str(Path(data_dir) / "relay-spool")
    level = (env.get("SYNAPSE_LOG_LEVEL", "") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"SYNAPSE_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
    return RelayConfig(
        bot_token=token,
        storage_connection=env.get("AzureWebJobsStorage", "") or "UseDevelopmentStorage=true",
        queue_service_uri=env.get("AzureWebJobsStorage__queueServiceUri", "").strip(),
        managed_identity_client_id=env.get("AZURE_CLIENT_ID", "").strip(),
        events_queue=env.get("SYNAPSE_EVENTS_QUEUE", "").strip() or "synapse-events",
        fingerprint_key=key.encode(),
        spool_dir=Path(spool),
        health_port=_int(env, "SYNAPSE_RELAY_HEALTH_PORT", 8080, 0, 65535),
        linger_seconds=_int(env, "SYNAPSE_RELAY_LINGER_MS", 100, 1, 250) / 1000,
        buffer_events=_int(env, "SYNAPSE_RELAY_BUFFER_EVENTS", 50_000, 500, 1_000_000),
        log_level=level,
        production=production,
    )
