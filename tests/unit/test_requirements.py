"""requirements.txt (the Functions deployment) is generated from uv.lock and never drifts from it."""

import shutil
import subprocess

import pytest

from synapse.config import PROJECT_ROOT


def test_requirements_match_the_lock() -> None:
    """Regenerating from the lock gives the committed requirements.txt (run scripts/requirements.sh)."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed (scripts/setup.sh installs it)")
    exported = subprocess.run(
        [uv, "export", "--frozen", "--no-dev", "--no-group", "local", "--no-group", "worker", "--no-emit-project",
         "--no-hashes", "--no-header", "--format", "requirements-txt"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    committed = (PROJECT_ROOT / "requirements.txt").read_text()
    assert exported == committed, "requirements.txt drifted from uv.lock: run scripts/requirements.sh"
    assert "pgserver" not in committed, "the embedded database must not ship to Azure"
