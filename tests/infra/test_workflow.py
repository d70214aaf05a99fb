"""The CI workflow operators copy: tests, Bicep compile, then azd provision + deploy."""

from __future__ import annotations

from typing import Any

import yaml

from tests.infra.bicep import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "azure-dev.yml"


def steps(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + str(step.get("uses", "")) for step in job["steps"])


def test_workflow_tests_compiles_bicep_and_deploys_after_both() -> None:
    """test → bicep build → azd deploy, with deploy gated on the other two and on main."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert "pytest tests/infra" in steps(jobs["test"])
    assert "az bicep build --file infra/main.bicep" in steps(jobs["bicep"])
    deploy = jobs["deploy"]
    assert set(deploy["needs"]) == {"test", "bicep"}
    assert "refs/heads/main" in deploy["if"]
    assert "azd provision" in steps(deploy) and "azd deploy" in steps(deploy)


def test_deploy_supplies_every_value_the_preprovision_hook_requires() -> None:
    """The hook refuses to run without the Discord values: CI must pass each one."""
    env = yaml.safe_load(WORKFLOW.read_text())["jobs"]["deploy"]["env"]
    hook = (ROOT / "infra" / "hooks" / "preprovision.sh").read_text()
    for name in ("DISCORD_APPLICATION_ID", "DISCORD_PUBLIC_KEY", "DISCORD_BOT_TOKEN", "DISCORD_CLIENT_SECRET",
                 "SYNAPSE_JWT_SECRET", "SYNAPSE_FINGERPRINT_KEY"):
        assert name in hook and name in env, name


def test_pull_requests_preview_the_provision_and_run_the_platform_contracts() -> None:
    """PRs get `azd provision --preview` (after the Bicep compile); the test job runs tests/contract."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    preview = jobs["preview"]
    assert "pull_request" in preview["if"] and preview["needs"] == ["bicep"]
    assert "azd provision --preview" in steps(preview)
    assert "pytest tests/contract" in steps(jobs["test"]) and "npm ci" in steps(jobs["test"])
