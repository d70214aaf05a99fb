"""Every setting the code reads reaches the Function App; every local setting is accounted for.

The app settings are the keys of the two object literals ``hostSettings`` and
``synapseSettings`` in infra/modules/api.bicep, which together are the site's
``appSettingsKeyValuePairs`` (checked below, so a third, unchecked source of
settings cannot creep in).
"""

from __future__ import annotations

import json

from pydantic import AliasChoices

from synapse.config import Settings
from tests.infra.bicep import INFRA, ROOT, declarations, properties, text

API = INFRA / "modules" / "api.bicep"
SETTING_VARIABLES = ("hostSettings", "synapseSettings")

# Connections the Functions host resolves from "<name>__serviceUri"-style
# settings with a managed identity instead of one connection string.
IDENTITY_CONNECTIONS = {"AzureWebJobsStorage"}


def app_settings() -> set[str]:
    variables = declarations(API, "variable")
    keys: set[str] = set()
    for name in SETTING_VARIABLES:
        keys |= set(properties(variables[name].body))
    return keys


def is_provided(name: str, provided: set[str]) -> bool:
    if name in provided:
        return True
    return name in IDENTITY_CONNECTIONS and {f"{name}__credential", f"{name}__queueServiceUri"} <= provided


def env_names(field_name: str) -> list[str]:
    """The environment variable names a Settings field accepts (any one of them sets it)."""
    info = Settings.model_fields[field_name]
    if isinstance(info.validation_alias, AliasChoices):
        return [c for c in info.validation_alias.choices if isinstance(c, str)]
    if isinstance(info.validation_alias, str):
        return [info.validation_alias]
    return [info.alias or field_name]


def test_app_settings_are_exactly_the_checked_variables() -> None:
    """The site's appSettingsKeyValuePairs is union(hostSettings, synapseSettings), nothing else."""
    site = properties(properties(declarations(API, "module")["site"].body)["params"])
    assert text(site["appSettingsKeyValuePairs"]) == f"union({', '.join(SETTING_VARIABLES)})"


def test_every_settings_field_is_an_app_setting() -> None:
    """Each field of synapse.config.Settings gets a value in Azure (by one of its names)."""
    provided = app_settings()
    assert len(Settings.model_fields) > 10
    missing = {field: env_names(field) for field in Settings.model_fields
               if not any(is_provided(name, provided) for name in env_names(field))}
    assert missing == {}, "Settings fields with no Function App setting in infra/modules/api.bicep"


def test_storage_is_identity_based_not_a_connection_string() -> None:
    """AzureWebJobsStorage counts as provided only through its identity settings."""
    provided = app_settings()
    assert "AzureWebJobsStorage" not in provided
    assert is_provided("AzureWebJobsStorage", provided)
    assert not is_provided("AzureWebJobsStorage", provided - {"AzureWebJobsStorage__queueServiceUri"})


def local_values() -> dict[str, str]:
    return dict(json.loads((ROOT / "local.settings.sample.json").read_text())["Values"])


def local_only() -> dict[str, str]:
    data = json.loads((INFRA / "local-only.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("$")}


def test_every_local_setting_is_provided_or_documented_local_only() -> None:
    """Each key of local.settings.sample.json is an app setting or listed in infra/local-only.json."""
    provided, exempt = app_settings(), local_only()
    unaccounted = [k for k in local_values() if not is_provided(k, provided) and k not in exempt]
    assert unaccounted == []


def test_local_only_list_is_honest() -> None:
    """Every local-only entry exists in the sample, gives a reason, and is really not set in Azure."""
    values, provided = local_values(), app_settings()
    for key, reason in local_only().items():
        assert key in values, f"{key}: stale entry (not in local.settings.sample.json)"
        assert len(reason.split()) >= 5, f"{key}: say why it is local-only"
        assert not is_provided(key, provided), f"{key}: listed as local-only but set in Azure"
