"""azure.yaml: the three services point at things that exist, and the hooks are runnable."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.bicep import ROOT

EXPECTED_HOSTS = {"api": "function", "relay": "containerapp", "dashboard": "staticwebapp"}


def azure_yaml() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "azure.yaml").read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(azure_yaml()["services"])


def test_services_and_hosts() -> None:
    """api on Functions, relay on Container Apps, dashboard on Static Web Apps."""
    assert {name: svc["host"] for name, svc in services().items()} == EXPECTED_HOSTS


@pytest.mark.parametrize("name", sorted(EXPECTED_HOSTS))
def test_service_project_folder_exists(name: str) -> None:
    """Each service's project is an existing folder of the repository."""
    project = (ROOT / services()[name]["project"]).resolve()
    assert project.is_dir(), f"{name}: {project} does not exist"
    assert ROOT in (project, *project.parents)


def test_api_project_is_a_functions_app() -> None:
    """The api project holds what Flex Consumption deploys: entry point, host.json, requirements.txt."""
    project = ROOT / services()["api"]["project"]
    for required in ("function_app.py", "host.json", "requirements.txt"):
        assert (project / required).is_file(), f"api: {required} missing"


def test_api_package_leaves_out_what_functions_does_not_run() -> None:
    """azd zips the api project minus .funcignore: the venv, node_modules and the dashboard stay out."""
    ignore = ROOT / services()["api"]["project"] / ".funcignore"
    assert ignore.is_file(), ".funcignore missing: azd would upload .venv/, node_modules/, dashboard/"
    entries = {line.strip().rstrip("/") for line in ignore.read_text().splitlines()}
    assert {".venv", "node_modules", "dashboard"} <= entries


def test_relay_image_builds_from_its_dockerfile() -> None:
    """The relay's Dockerfile exists at docker.path, relative to the project, with the context."""
    relay = services()["relay"]
    project = ROOT / relay["project"]
    assert (project / relay["docker"]["path"]).is_file(), "relay/Dockerfile missing"
    assert (project / relay["docker"]["context"]).is_dir()


def test_dashboard_builds_into_dist() -> None:
    """The dashboard is an npm project whose build script produces the dist folder azd uploads."""
    dashboard = services()["dashboard"]
    project = ROOT / dashboard["project"]
    package = project / "package.json"
    assert package.is_file(), "dashboard/package.json missing"
    assert "build" in json.loads(package.read_text()).get("scripts", {})
    assert dashboard["dist"] == "build"


def hook_scripts() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    hooks: list[tuple[Path, dict[str, Any]]] = [(ROOT, azure_yaml().get("hooks", {}))]
    for svc in services().values():
        hooks.append((ROOT / svc["project"], svc.get("hooks", {})))
    for base, group in hooks:
        for event, spec in group.items():
            run = spec["posix"]["run"] if "posix" in spec else spec["run"]
            found.append((event, (base / run).resolve()))
    return found


def test_hooks_build_the_dashboard_and_set_up_the_database() -> None:
    """preprovision, postprovision, the dashboard build and the command registration are wired."""
    events = {event for event, _ in hook_scripts()}
    assert {"preprovision", "postprovision", "prepackage", "postdeploy"} <= events


def test_postdeploy_registers_the_slash_commands_through_the_cli() -> None:
    """After a deploy the commands are installed by `synapse register-commands` (no step by hand)."""
    source = (ROOT / "infra" / "hooks" / "postdeploy.sh").read_text()
    assert "synapse register-commands" in source and "DISCORD_BOT_TOKEN" in source
    from typer.testing import CliRunner

    from synapse.cli import app

    result = CliRunner().invoke(app, ["register-commands", "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("event,script", hook_scripts(), ids=lambda v: str(v) if isinstance(v, str) else v.name)
def test_hook_script_exists_and_is_valid_sh(event: str, script: Path) -> None:
    """Each posix hook is an executable script that `sh -n` accepts."""
    assert script.is_file(), f"{event}: {script} missing"
    assert os.access(script, os.X_OK), f"{event}: {script} not executable"
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_postprovision_runs_migrations_through_the_cli() -> None:
    """The database hook creates the principal and calls `synapse db upgrade` (the lead's CLI)."""
    source = (ROOT / "infra" / "hooks" / "db_setup.py").read_text()
    assert "pgaadauth_create_principal_with_oid" in source
    assert '"synapse", "db", "upgrade"' in source
    from typer.testing import CliRunner

    from synapse.cli import app

    result = CliRunner().invoke(app, ["db", "upgrade", "--help"])
    assert result.exit_code == 0, result.output


def test_dashboard_hook_writes_a_valid_spa_fallback_for_static_web_apps() -> None:
    """Deep links serve index.html: the hook's staticwebapp.config.json is valid and rewrites to it."""
    source = (ROOT / "infra" / "hooks" / "build-dashboard.sh").read_text()
    body = source.split("<<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0]
    config = json.loads(body)
    assert config["navigationFallback"]["rewrite"] == "/index.html"
    assert "/_app/*" in config["navigationFallback"]["exclude"]
    assert "PUBLIC_SYNAPSE_API_BASE" in source and "SERVICE_API_URI" in source


def test_relay_build_context_leaves_out_the_venv_and_node_modules() -> None:
    """The relay image builds in the registry from the repo root: .dockerignore keeps the upload small."""
    relay = services()["relay"]
    ignore = ROOT / relay["project"] / relay["docker"]["context"] / ".dockerignore"
    assert ignore.is_file(), ".dockerignore missing: azd would upload .venv/ and node_modules/ to the registry"
    entries = {line.strip().strip("/").removeprefix("**/") for line in ignore.read_text().splitlines()}
    assert {".venv", "node_modules"} <= entries
