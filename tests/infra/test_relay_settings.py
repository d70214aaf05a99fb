"""The relay's container gets every variable relay/config.py reads, or that variable's default is right."""

from __future__ import annotations

import re

from tests.infra.bicep import INFRA, ROOT, declarations, properties, unquote

RELAY_BICEP = INFRA / "modules" / "relay.bicep"

# Read by the relay, deliberately left to their defaults in Azure.
DEFAULT_IS_RIGHT = {
    "SYNAPSE_RELAY_LINGER_MS": "batching delay; the default (100 ms) is the tuned value",
    "SYNAPSE_RELAY_BUFFER_EVENTS": "in-memory buffer; the default fits the 0.5 GiB container",
    "AzureWebJobsStorage": "replaced by AzureWebJobsStorage__queueServiceUri + the identity (no keys)",
}


def relay_reads() -> set[str]:
    source = (ROOT / "relay" / "config.py").read_text()
    return set(re.findall(r"""env(?:\.get)?\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""", source)) | set(
        re.findall(r"""_int\(env,\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""", source))


def container_env() -> set[str]:
    app = declarations(RELAY_BICEP, "resource")["relay"]
    template = properties(properties(properties(app.body)["properties"])["template"])
    (container,) = [c for c in template["containers"].named_children if c.type == "object"]
    env = properties(container)["env"]
    return {unquote(properties(item)["name"]) for item in env.named_children if item.type == "object"}


def test_relay_config_is_parsed() -> None:
    """The scan finds the relay's variables (so the next test is not vacuous)."""
    assert {"DISCORD_BOT_TOKEN", "SYNAPSE_RELAY_HEALTH_PORT", "AzureWebJobsStorage__queueServiceUri"} <= relay_reads()


def test_every_relay_variable_is_set_or_defaulted_on_purpose() -> None:
    """Each variable the relay reads is in the container's env, or listed with a reason."""
    missing = relay_reads() - container_env() - set(DEFAULT_IS_RIGHT)
    assert missing == set()


def test_secrets_come_from_key_vault() -> None:
    """The bot token and fingerprint key are Key Vault secret references, not values."""
    source = RELAY_BICEP.read_text()
    for secret in ("discord-bot-token", "synapse-fingerprint-key"):
        assert f"keyVaultUrl: '${{keyVaultUri}}secrets/{secret}'" in source
        assert f"secretRef: '{secret}'" in source


def test_probes_use_the_port_the_relay_listens_on() -> None:
    """SYNAPSE_RELAY_HEALTH_PORT is the probes' port parameter."""
    source = RELAY_BICEP.read_text()
    assert re.search(r"name: 'SYNAPSE_RELAY_HEALTH_PORT'\s+value: string\(healthPort\)", source)
    assert source.count("port: healthPort") == 3
