"""The dashboard in a real browser: headless Chromium (Debian's) drives the built SPA against the
real HTTP app on a seeded PostgreSQL database, through ``dashboard/e2e/run.mjs``.

What it proves (issue 8): every public page renders the API's real data and its charts; an
admin logs in through the test-only login, edits a rule, sees the backtest, saves, and finds
the change in the audit log; a non-admin cannot reach admin pages; module toggles hide pages.
Screenshots land in ``artifacts/screenshots/``; the budget (gzipped JS per page, overview
paint time) is printed and written to ``artifacts/budget.json``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from synapse.config import PROJECT_ROOT
from tests.browser.seed import GUILD_ID, seed
from tests.support.fake_discord import FakeDiscord, channel, role
from tests.support.services import free_port

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

DASHBOARD = PROJECT_ROOT / "dashboard"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def _missing(what: str) -> None:
    """In CI a missing tool is a failure; on a developer's machine, a skip that says what to install."""
    if os.environ.get("CI"):
        pytest.fail(what)
    pytest.skip(what)


def _newest(path: Path) -> float:
    return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=0.0)


def _ensure_build() -> None:
    """Build the dashboard when there is no build or the sources are newer (scripts/test builds first)."""
    index = DASHBOARD / "build" / "index.html"
    sources = max(_newest(DASHBOARD / "src"), (DASHBOARD / "package-lock.json").stat().st_mtime)
    if index.exists() and index.stat().st_mtime >= sources:
        return
    if not (DASHBOARD / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=DASHBOARD, check=True)
    subprocess.run(["npm", "run", "build", "--silent"], cwd=DASHBOARD, check=True, stdout=subprocess.DEVNULL)


def test_committed_api_types_match_the_http_app() -> None:
    """dashboard/src/lib/api/openapi.json (the source of schema.d.ts) is the app's current OpenAPI
    document, and rule-schema.json the Rules engine's: an API change must regenerate the dashboard's
    types (``npm --prefix dashboard run openapi``), so the dashboard's type check sees it."""
    import json

    from synapse.api.app import create_app
    from synapse.rules.model import rules_schema

    api_dir = DASHBOARD / "src" / "lib" / "api"
    committed = json.loads((api_dir / "openapi.json").read_text())
    current = json.loads(json.dumps(create_app().openapi()))
    current["paths"].pop("/api/auth/test-login", None)  # exists only with SYNAPSE_TEST_LOGIN
    committed["paths"].pop("/api/auth/test-login", None)
    stale = sorted(set(current["paths"]) ^ set(committed["paths"]))
    assert current == committed, (
        "the dashboard's API types are stale: run `npm --prefix dashboard run openapi` and commit "
        f"src/lib/api/*.json and schema.d.ts (paths added or removed: {stale or 'none; schemas changed'})")
    assert json.loads((api_dir / "rule-schema.json").read_text()) == json.loads(json.dumps(rules_schema())), (
        "the rule JSON Schema changed: run `npm --prefix dashboard run openapi`")


def test_dashboard_type_check_and_unit_tests() -> None:
    """svelte-check (against the generated API types) and the vitest unit tests pass."""
    if shutil.which("node") is None:
        _missing("node is not installed (the dashboard needs Node 20)")
    if not (DASHBOARD / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=DASHBOARD, check=True)
    check = subprocess.run(["npm", "run", "--silent", "check"], cwd=DASHBOARD, capture_output=True, text=True,
                           timeout=300)
    assert check.returncode == 0, f"svelte-check failed:\n{check.stdout[-4000:]}\n{check.stderr[-2000:]}"
    unit = subprocess.run(["npx", "vitest", "run"], cwd=DASHBOARD, capture_output=True, text=True, timeout=300)
    assert unit.returncode == 0, f"vitest failed:\n{unit.stdout[-4000:]}\n{unit.stderr[-2000:]}"


# Roles of the simulated community in (fake) Discord: the bot's own role sits between them.
ROLE_IDS = {"Moderators": "1100000000000000901", "Synapse": "1100000000000000902",
            "Regulars": "1100000000000000903", "Server Booster": "1100000000000000904"}


def discord_guild(fake: FakeDiscord) -> None:
    """The seeded guild in the fake Discord, its channels named as the simulator names them."""
    from synapse.simulate.community import SimulationConfig, Simulator

    community = Simulator(SimulationConfig(seed=7, guild_id=GUILD_ID)).community
    text = [channel(cid, name, position=i) for i, (name, cid) in enumerate(community.text_channels.items())]
    voice = [channel(cid, name, type=2, position=i) for i, (name, cid) in enumerate(community.voice_channels.items())]
    fake.add_guild(GUILD_ID, name="Simulated Community", channels=[*text, *voice],
                   roles=[role(community.member_role, "Member", position=1),
                          role(ROLE_IDS["Server Booster"], "Server Booster", position=2, premium_subscriber=True),
                          role(ROLE_IDS["Regulars"], "Regulars", position=3),
                          role(ROLE_IDS["Synapse"], "Synapse", position=4, managed=True, bot_id=fake.application_id),
                          role(ROLE_IDS["Moderators"], "Moderators", position=5)],
                   bot_roles=[ROLE_IDS["Synapse"]])


@pytest.fixture
def stack(db_url: str) -> Iterator[str]:
    """The HTTP app serving the API and dashboard/build on a free port, on a seeded database, with a
    fake Discord serving the guild's channels and roles (names for the pickers)."""
    if shutil.which("node") is None:
        _missing("node is not installed (the dashboard's e2e runner needs Node 20)")
    if not Path(CHROMIUM).exists():
        _missing("chromium is not installed: apt-get install -y chromium")
    _ensure_build()
    report = seed(db_url, days=5, members=28)
    print(f"seeded: {report}")
    fake = FakeDiscord().start()
    discord_guild(fake)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SYNAPSE_ENV": "test", "SYNAPSE_TEST_LOGIN": "true", "SYNAPSE_DATABASE_URL": db_url,
           "SYNAPSE_DASHBOARD_ORIGIN": base, "SYNAPSE_HTTP_PORT": str(port), **fake.env()}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "synapse.runner.http:asgi_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"the HTTP app exited early:\n{server.stdout.read() if server.stdout else ''}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the HTTP app did not answer /api/health within 60 s")
            time.sleep(0.2)  # a server process coming up: polled, with a deadline
        index = httpx.get(f"{base}/g/{GUILD_ID}", timeout=5)
        assert index.status_code == 200 and "<html" in index.text, "the app serves the dashboard build"
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        fake.stop()


def test_dashboard_end_to_end_in_chromium(stack: str) -> None:
    """Public pages show real data and charts; admin edits a rule via backtest into the audit log;
    non-admins are kept out (dashboard/e2e/*.test.mjs)."""
    env = {**os.environ, "BASE_URL": stack, "GUILD_ID": str(GUILD_ID), "CHROMIUM_PATH": CHROMIUM}
    result = subprocess.run(["node", "e2e/run.mjs"], cwd=DASHBOARD, env=env, capture_output=True, text=True,
                            timeout=600)
    print(result.stdout)
    print(result.stderr, file=sys.stderr)
    assert result.returncode == 0, f"browser tests failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    assert " 0 failed" in result.stdout
