"""`synapse rules schema | validate | backtest` as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from synapse.admin.audit import SYSTEM
from synapse.config import PROJECT_ROOT
from synapse.db import lake_store
from synapse.rules.cache import RuleCache
from synapse.rules.simulate import simulate
from synapse.services.guild_init import init_guild
from synapse.services.rules_runner import process

GUILD = 31337


def _synapse(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNAPSE_DATABASE_URL": url, "SYNAPSE_ENV": "development", "COLUMNS": "160"}
    return subprocess.run([sys.executable, "-m", "synapse.cli", "rules", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_schema_validate_and_backtest(engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    """The schema is JSON; a bad file lists its problems with paths; a backtest prints totals and the diff."""
    schema = _synapse("schema", url=db_url)
    assert schema.returncode == 0 and json.loads(schema.stdout)["title"] == "Synapse rule"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"name": "x", "trigger": {"event": "message_create"},
                                "conditions": [{"type": "cooldown", "seconds": -1}],
                                "effects": [{"type": "credit", "currency": "xp", "amount": 0}]}]))
    result = _synapse("validate", str(bad), url=db_url)
    assert result.returncode != 0
    assert "[0].conditions[0].seconds" in result.stderr and "[0].effects[0].amount" in result.stderr

    with engine.begin() as conn:
        init_guild(conn, GUILD, actor=SYSTEM)
    events = [e for e in simulate(GUILD, members=5, hours=2, seed=5) if e.event_type == "message_create"]
    with engine.begin() as conn:
        process(conn, lake_store.append(conn, events), rules=RuleCache())
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps({"rules": [{"name": "Gold per message", "trigger": {"event": "message_create"},
                                            "effects": [{"type": "credit", "currency": "gold", "amount": 2}]}]}))
    report = _synapse("backtest", "--guild", str(GUILD), "--rules", str(draft), "--json", url=db_url)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["draft"]["events"] == len(events)
    assert data["diff"]["totals"]["gold"] == 2 * len(events)      # exactly the draft rule's credits
    assert data["diff"]["totals"]["xp"] == 0
    text = _synapse("backtest", "--guild", str(GUILD), "--rules", str(draft), "--from", "2025-01-15", url=db_url)
    assert text.returncode == 0, text.stderr
    assert "gold" in text.stdout and "vs live" in text.stdout
