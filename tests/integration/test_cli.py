"""The Foundation's CLI round trip works against a real database: upgrade, init, verify."""

import os
import subprocess
import sys

from synapse.config import PROJECT_ROOT
from tests.support import services


def _synapse(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNAPSE_DATABASE_URL": url, "SYNAPSE_ENV": "development"}
    return subprocess.run([sys.executable, "-m", "synapse.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_upgrade_init_verify(pg_template: str) -> None:
    """`synapse db upgrade && synapse guild init 1 && synapse ledger verify` succeeds on an empty database."""
    name = services.create_test_database()  # from the template, then re-run upgrade (a no-op at head)
    try:
        url = services.server_url(name)
        for args in (["db", "upgrade"], ["guild", "init", "1"], ["ledger", "verify"]):
            result = _synapse(*args, url=url)
            assert result.returncode == 0, result.stderr
        assert "already initialised" in _synapse("guild", "init", "1", url=url).stdout
    finally:
        services.drop_test_database(name)


def test_bad_arguments_say_what_is_wrong(pg_template: str) -> None:
    """A non-snowflake guild id is refused with a message, not a traceback."""
    result = _synapse("guild", "init", "abc", url=services.server_url(services.TEMPLATE_DB))
    assert result.returncode != 0
    assert "not a Discord guild id" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
