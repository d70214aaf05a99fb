"""Offline checks of infra/: syntax, parameters, module wiring, tags, and the settings that matter.

Nothing here reaches Azure or compiles Bicep; `az bicep build` runs in CI
(.github/workflows/azure-dev.yml). These tests catch what a review would miss:
a typo in a parameter name, a module called without a required parameter, an
untagged resource, a shared key switched back on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.infra.bicep import INFRA, Declaration, bicep_files, declarations, parse, problems, text, unquote

MAIN = INFRA / "main.bicep"
API = INFRA / "modules" / "api.bicep"

QUEUES = {"synapse-events", "synapse-events-poison", "synapse-announce", "synapse-announce-poison",
          "synapse-followups", "synapse-followups-poison"}


def test_there_is_bicep_to_check() -> None:
    """main.bicep and its local modules exist (the parse test below is not vacuous)."""
    names = {p.relative_to(INFRA).as_posix() for p in bicep_files()}
    assert {"main.bicep", "modules/api.bicep", "modules/postgres.bicep", "modules/relay.bicep"} <= names


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_parses_without_errors(path: Path) -> None:
    """tree-sitter-bicep finds no ERROR or MISSING node."""
    assert problems(parse(path)) == []


def test_main_is_subscription_scoped() -> None:
    """Like the azd templates: main.bicep creates the resource group itself."""
    assert re.search(r"^targetScope\s*=\s*'subscription'", MAIN.read_text(), re.M)


def test_parameters_file_matches_main() -> None:
    """Every parameter in main.parameters.json is declared; every required one is supplied."""
    declared = declarations(MAIN, "parameter")
    supplied = set(json.loads((INFRA / "main.parameters.json").read_text())["parameters"])
    assert supplied - set(declared) == set(), "unknown parameters in main.parameters.json"
    required = {name for name, d in declared.items() if not d.has_default}
    assert required - supplied == set(), "required parameters missing from main.parameters.json"


def local_modules(path: Path) -> list[tuple[Declaration, Path]]:
    return [(d, (path.parent / d.target).resolve()) for d in declarations(path, "module").values()
            if not d.target.startswith("br")]


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_local_module_calls_match_module_parameters(path: Path) -> None:
    """A local module gets only parameters it declares, and every one it requires."""
    for module, target in local_modules(path):
        assert target.is_file(), f"{module.name}: {module.target} does not exist"
        params = declarations(target, "parameter")
        passed = _keys(_props(module.body).get("params"))
        assert passed - set(params) == set(), f"{module.name}: unknown parameters"
        required = {n for n, d in params.items() if not d.has_default}
        assert required - passed == set(), f"{module.name}: required parameters not passed"


def test_registry_modules_are_azure_verified_modules_with_pinned_versions() -> None:
    """Registry modules come from AVM (br/public:avm/...) at an exact version."""
    refs = [d.target for p in bicep_files() for d in declarations(p, "module").values()
            if d.target.startswith("br")]
    assert refs, "no Azure Verified Modules used"
    for ref in refs:
        assert re.fullmatch(r"br/public:avm/(res|ptn)/[a-z0-9-/]+:\d+\.\d+\.\d+", ref), ref


# Resource types that cannot carry tags (RBAC assignments, child resources).
def _taggable(resource_type: str) -> bool:
    provider_path = resource_type.split("@")[0]
    return not provider_path.startswith("Microsoft.Authorization/") and provider_path.count("/") == 1


# Modules whose every resource is untaggable (role assignments only).
UNTAGGED_MODULES = {"rbac"}


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_every_resource_is_tagged(path: Path) -> None:
    """Every taggable resource and every module call sets tags."""
    for res in declarations(path, "resource").values():
        if res.is_existing or not _taggable(res.target):
            continue
        assert "tags" in _props(res.body), f"resource {res.name} ({res.target}) has no tags"
    for module in declarations(path, "module").values():
        if module.name in UNTAGGED_MODULES:
            continue
        assert "tags" in _keys(_props(module.body).get("params")), f"module {module.name} passes no tags"


def test_azd_env_name_tag_reaches_every_module() -> None:
    """main.bicep's tags carry azd-env-name (azd finds the environment's resources by it)."""
    tags = _props(declarations(MAIN, "variable")["tags"].body)
    assert unquote(tags["azd-env-name"]) == "environmentName"
    for module in declarations(MAIN, "module").values():
        if module.name in UNTAGGED_MODULES:
            continue
        value = text(_props(_props(module.body)["params"])["tags"])
        assert value == "tags" or value.startswith("union(tags,"), f"{module.name}: tags={value}"


def azure_yaml_services() -> dict[str, dict[str, object]]:
    import yaml

    return dict(yaml.safe_load((INFRA.parent / "azure.yaml").read_text())["services"])


def test_every_azd_service_has_an_azd_service_name_tag() -> None:
    """azd finds each service's host by the azd-service-name tag."""
    tagged: set[str] = set()
    for path in bicep_files():
        source = path.read_text()
        params = declarations(path, "parameter")
        for value in re.findall(r"'azd-service-name':\s*([^\s}]+)", source):
            if value.startswith("'"):
                tagged.add(value.strip("'"))
            elif value in params:
                default = re.search(rf"param {value} string = '([^']+)'", source)
                assert default, f"{path.name}: {value} has no default"
                tagged.add(default.group(1))
    assert set(azure_yaml_services()) <= tagged


def test_storage_allows_no_shared_keys_and_has_every_queue() -> None:
    """Identities only; the queues and their poison queues exist up front."""
    storage = _props(_props(declarations(MAIN, "module")["storage"].body)["params"])
    assert text(storage["allowSharedKeyAccess"]) == "false"
    queue_names = {unquote(n) for n in
                   _array_strings(declarations(MAIN, "variable")["queueNames"].node)}
    assert queue_names == QUEUES
    assert "queueNames" in text(storage["queueServices"])


def test_function_app_is_flex_consumption_python_312_with_one_warm_http_instance() -> None:
    """Flex plan FC1; python 3.12; alwaysReady http=1; per-instance HTTP concurrency set."""
    plan = text(declarations(MAIN, "module")["appServicePlan"].body)
    assert "'FC1'" in plan and "'FlexConsumption'" in plan
    site = _props(_props(declarations(API, "module")["site"].body)["params"])
    config = _props(site["functionAppConfig"])
    runtime = _props(config["runtime"])
    assert (unquote(runtime["name"]), unquote(runtime["version"])) == ("python", "3.12")
    scale = _props(config["scaleAndConcurrency"])
    ready = [_props(o) for o in scale["alwaysReady"].named_children if o.type == "object"]
    assert [(unquote(r["name"]), text(r["instanceCount"])) for r in ready] == [("http", "1")]
    concurrency = text(_props(_props(scale["triggers"])["http"])["perInstanceConcurrency"])
    variables = declarations(API, "variable")
    assert int(text(variables[concurrency].node.named_children[-1])) >= 1
    deployment = text(config["deployment"])
    assert "'UserAssignedIdentity'" in deployment


def test_host_storage_uses_the_identity_not_a_connection_string() -> None:
    """AzureWebJobsStorage__* identity settings; no AzureWebJobsStorage connection string."""
    host = _keys(declarations(API, "variable")["hostSettings"].body)
    assert {"AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId",
            "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__blobServiceUri"} <= host
    assert "AzureWebJobsStorage" not in host
    assert "AzureWebJobsStorage" not in _keys(declarations(API, "variable")["synapseSettings"].body)


SECRETS = {"DISCORD_BOT_TOKEN": "discord-bot-token", "DISCORD_PUBLIC_KEY": "discord-public-key",
           "DISCORD_CLIENT_SECRET": "discord-client-secret", "SYNAPSE_JWT_SECRET": "synapse-jwt-secret",
           "SYNAPSE_FINGERPRINT_KEY": "synapse-fingerprint-key"}


def test_secrets_are_key_vault_references_to_secrets_that_exist() -> None:
    """Each secret setting is a @Microsoft.KeyVault reference to a secret main.bicep stores."""
    settings = _props(declarations(API, "variable")["synapseSettings"].body)
    kv_params = _props(_props(declarations(MAIN, "module")["keyVault"].body)["params"])
    stored = {unquote(_props(o)["name"]) for o in kv_params["secrets"].named_children if o.type == "object"}
    assert "'@Microsoft.KeyVault(VaultName=${vault};SecretName=${secret})'" in API.read_text()
    for setting, secret in SECRETS.items():
        assert text(settings[setting]) == f"kvRef(keyVaultName, '{secret}')", setting
        assert secret in stored, f"{secret} is not stored in Key Vault"
    assert text(kv_params["enableRbacAuthorization"]) == "true"


def test_postgres_is_16_with_entra_only_auth() -> None:
    """Version 16; Entra ID on, passwords off; the deployer is the Entra administrator."""
    path = INFRA / "modules" / "postgres.bicep"
    server = _props(_props(declarations(path, "resource")["server"].body)["properties"])
    assert unquote(server["version"]) == "16"
    auth = _props(server["authConfig"])
    assert unquote(auth["activeDirectoryAuth"]) == "Enabled"
    assert unquote(auth["passwordAuth"]) == "Disabled"
    admin = declarations(path, "resource")["administrator"]
    assert admin.target.startswith("Microsoft.DBforPostgreSQL/flexibleServers/administrators@")
    assert "administratorLogin" not in path.read_text()


def test_relay_runs_exactly_one_replica_with_health_probes() -> None:
    """min = max = 1 replica; liveness and readiness probes on /healthz; AcrPull via identity."""
    path = INFRA / "modules" / "relay.bicep"
    app = declarations(path, "resource")["relay"]
    template = _props(_props(app.body)["properties"])["template"]
    scale = _props(_props(template)["scale"])
    assert (text(scale["minReplicas"]), text(scale["maxReplicas"])) == ("1", "1")
    probes = declarations(path, "variable")["healthProbes"].node
    kinds = {unquote(_props(o)["type"]): text(_props(_props(o)["httpGet"])["path"])
             for o in probes.named_children[-1].named_children if o.type == "object"}
    assert kinds.get("Liveness") == "'/healthz'" and kinds.get("Readiness") == "'/healthz'"
    registry = text(declarations(MAIN, "module")["registry"].body)
    assert "'AcrPull'" in registry and "relayIdentity.outputs.principalId" in registry


def test_identities_get_the_queue_roles_they_need() -> None:
    """api: queue contributor/processor/sender + blob owner; relay: queue sender only."""
    source = (INFRA / "modules" / "rbac.bicep").read_text()
    api_roles = re.search(r"var apiStorageRoles = \[(.*?)\]", source, re.S)
    assert api_roles
    for role in ("storageBlobDataOwner", "storageQueueDataContributor", "storageQueueDataMessageProcessor",
                 "storageQueueDataMessageSender"):
        assert f"roles.{role}" in api_roles.group(1)
    relay = declarations(INFRA / "modules" / "rbac.bicep", "resource")["relayQueueSender"]
    assert "roles.storageQueueDataMessageSender" in text(relay.body)


def test_alerts_cover_poison_queues_and_function_failures() -> None:
    """A poison-queue alert and a failed-executions alert, both to the action group."""
    path = INFRA / "modules" / "alerts.bicep"
    resources = {d.target.split("@")[0] for d in declarations(path, "resource").values() if not d.is_existing}
    assert {"Microsoft.Insights/actionGroups", "Microsoft.Insights/metricAlerts",
            "Microsoft.Insights/scheduledQueryRules"} <= resources
    assert "requests/failed" in path.read_text()
    poison = text(_props(_props(declarations(MAIN, "module")["alerts"].body)["params"])["poisonQueueNames"])
    assert "-poison" in poison


def test_outputs_include_what_azd_and_the_hooks_read() -> None:
    """The postprovision hook and azd need these outputs."""
    outputs = set(declarations(MAIN, "output"))
    hook = (INFRA / "hooks" / "db_setup.py").read_text()
    needed = set(re.findall(r'"((?:AZURE|POSTGRES)_[A-Z_]+)"', hook))
    assert needed and needed <= outputs
    assert {"AZURE_LOCATION", "AZURE_TENANT_ID", "SERVICE_API_NAME", "AZURE_CONTAINER_REGISTRY_ENDPOINT",
            "SERVICE_API_URI", "DISCORD_INTERACTIONS_ENDPOINT_URL"} <= outputs


# -- small helpers over tests.infra.bicep ---------------------------------------------------


def _props(node: object) -> dict[str, object]:
    from tests.infra.bicep import properties

    return properties(node)  # type: ignore[arg-type, return-value]


def _keys(node: object) -> set[str]:
    return set(_props(node)) if node is not None else set()


def _array_strings(node: object) -> list[object]:
    stack, found = [node], []
    while stack:
        current = stack.pop()
        if current.type == "string":  # type: ignore[attr-defined]
            found.append(current)
        else:
            stack.extend(current.named_children)  # type: ignore[attr-defined]
    return found


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_local_module_outputs_used_exist(path: Path) -> None:
    """`module.outputs.x` names an output the local module declares."""
    source = path.read_text()
    for module, target in local_modules(path):
        outputs = set(declarations(target, "output"))
        used = set(re.findall(rf"\b{module.name}\.outputs\.(\w+)", source))
        assert used - outputs == set(), f"{module.name}: no such outputs"


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_identifiers_used_in_interpolations_and_values_are_declared(path: Path) -> None:
    """Every `name.` reference (name.outputs, name.properties, name.id …) is a declared symbol."""
    symbols: set[str] = set()
    for kind in ("parameter", "variable", "resource", "module", "output"):
        symbols |= set(declarations(path, kind))
    builtins = {"az", "sys", "environment", "subscription", "resourceGroup", "tenant", "deployment"}
    source = re.sub(r"//.*", "", path.read_text())
    source = re.sub(r"'''.*?'''", "", source, flags=re.S)
    used = set(re.findall(r"(?<![\w.'@-])([a-z]\w*)\.(?:outputs|properties|id|name)\b", source))
    assert used - symbols - builtins == set()
