"""host.json validated against SchemaStore's published host.json schema (vendored, tests/contract/schemas/)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "schemas/host.json").read_text())


def problems(host: Any) -> list[str]:
    """Every schema error as "<JSON path>: <message>"; against the "version-2" branch when the whole
    schema (a oneOf of version 1 and 2) refuses a version 2.0 file, so the error names the key."""
    if jsonschema_rs.validator_for(SCHEMA).is_valid(host):
        return []
    schema: dict[str, Any] = SCHEMA
    if isinstance(host, dict) and host.get("version") == "2.0":
        schema = {"$schema": SCHEMA["$schema"], "definitions": SCHEMA["definitions"],
                  "$ref": "#/definitions/version-2"}
    errors = jsonschema_rs.validator_for(schema).iter_errors(host)
    found = sorted(f"$.{'.'.join(str(p) for p in e.instance_path)}: {e.message}" for e in errors)
    return found or ["$: not valid under the host.json schema"]


def test_host_json_matches_the_published_schema() -> None:
    """The committed host.json is valid against SchemaStore's schema."""
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert problems(host) == []


def _broken(change: Any) -> list[str]:
    host = copy.deepcopy(json.loads((ROOT / "host.json").read_text()))
    change(host)
    return problems(host)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda h: h["extensions"]["queues"].update(batchsize=h["extensions"]["queues"].pop("batchSize")),
     "$.extensions.queues: Additional properties are not allowed ('batchsize' was unexpected)"),
    (lambda h: h["extensions"]["queues"].update(batchSize=64), "$.extensions.queues.batchSize: 64 is greater than"),
    (lambda h: h.update(functionTimeout="5 minutes"), "$.functionTimeout: "),
    (lambda h: h["extensions"]["queues"].update(messageEncoding="utf8"), "$.extensions.queues.messageEncoding: "),
    (lambda h: h.update(extensionBundel=h.pop("extensionBundle")),
     "$.: Additional properties are not allowed ('extensionBundel' was unexpected)"),
])
def test_a_broken_copy_of_host_json_fails_naming_the_key(change: Any, expected: str) -> None:
    """A misspelt key, an out-of-range batch size, a bad timeout or encoding: each error names its path."""
    found = _broken(change)
    assert any(p.startswith(expected) for p in found), found
