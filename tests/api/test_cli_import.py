"""`synapse import FILE --guild G --currency xp [--format mee6|csv]` against real PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from synapse.cli import app
from synapse.db.ledger_store import verify
from tests.api.conftest import GUILD, Api


def test_cli_import_previews_applies_once_and_keeps_ledger(api: Api, tmp_path: Path) -> None:
    """The CLI previews, applies with --yes, and a second run of the same file changes nothing."""
    export = tmp_path / "mee6.json"
    export.write_text(json.dumps({"players": [{"id": "301", "username": "ada", "xp": 268375, "level": 50},
                                              {"id": "302", "username": "bob", "xp": 100, "level": 1}]}))
    runner = CliRunner()
    dry = runner.invoke(app, ["import", str(export), "--guild", str(GUILD), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 members" in dry.output and "nothing written" in dry.output
    assert api.sql("SELECT count(*) FROM transactions")[0][0] == 0
    done = runner.invoke(app, ["import", str(export), "--guild", str(GUILD), "--currency", "xp", "--yes"])
    assert done.exit_code == 0, done.output
    assert api.sql("SELECT user_id, balance FROM wallets ORDER BY user_id") == [(301, 268375), (302, 100)]
    again = runner.invoke(app, ["import", str(export), "--guild", str(GUILD), "--yes"])
    assert again.exit_code == 0 and "already imported" in again.output
    assert api.sql("SELECT count(*) FROM transactions")[0][0] == 2
    csv = tmp_path / "levels.csv"
    csv.write_text("401,50\n402,70\n")
    assert runner.invoke(app, ["import", str(csv), "--guild", str(GUILD), "--format", "csv", "--yes"]).exit_code == 0
    assert api.sql("SELECT action FROM admin_log WHERE action = 'import.apply'") == [("import.apply",)] * 2
    with api.engine.connect() as conn:
        assert verify(conn) == []
