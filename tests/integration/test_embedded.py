"""``synapse db stop`` on the embedded PostgreSQL: a process killed while it held the server does not
keep it up for good, and a live one is named instead of being cut off (run as an operator runs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _synapse(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNAPSE_DATA_DIR": str(root)}
    env.pop("SYNAPSE_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "synapse.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.fixture
def root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="syn-") as tmp:   # short: the socket path has a length limit
        data = Path(tmp)
        assert _synapse(data, "db", "url").returncode == 0   # starts the embedded server, lets go of it
        try:
            yield data
        finally:
            _handles(data, [])
            _synapse(data, "db", "stop")


def _handles(root: Path, pids: list[int]) -> None:
    (root / "pg" / ".handle_pids.json").write_text(json.dumps(pids))


def test_stop_forgets_processes_that_died_holding_the_server(root: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    _handles(root, [int(dead.stdout)])
    stopped = _synapse(root, "db", "stop")
    assert stopped.returncode == 0 and "embedded postgresql stopped" in stopped.stdout, stopped.stderr
    assert not (root / "pg" / "postmaster.pid").exists()
    again = _synapse(root, "db", "stop")
    assert again.returncode == 0 and "was not running" in again.stdout


def test_stop_names_a_live_process_and_leaves_the_server_running(root: Path) -> None:
    # A live process holding a handle (it sleeps only to stay alive; it is killed below).
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as live:
        try:
            _handles(root, [live.pid])
            refused = _synapse(root, "db", "stop")
            assert refused.returncode != 0
            said = refused.stdout + refused.stderr
            assert str(live.pid) in said and "synapse db stop" in said, said
            assert (root / "pg" / "postmaster.pid").exists()
        finally:
            live.kill()
