"""Settings are validated once; production refuses placeholders; the sample lists every variable."""

import json

import pytest

from synapse.config import PROJECT_ROOT, Settings, load_settings
from synapse.errors import ConfigError


def _aliases() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        if field.alias:
            names.add(field.alias)
        elif field.validation_alias is not None:
            choices = getattr(field.validation_alias, "choices", [field.validation_alias])
            names.add(str(choices[0]))
    return names


def test_sample_lists_every_variable_with_a_comment() -> None:
    """local.settings.sample.json names every variable Settings reads, each with a comment."""
    sample = json.loads((PROJECT_ROOT / "local.settings.sample.json").read_text())
    missing = _aliases() - set(sample["Values"])
    assert not missing, f"add to local.settings.sample.json: {sorted(missing)}"
    uncommented = set(sample["Values"]) - set(sample["Comments"])
    assert not uncommented, f"comment these in local.settings.sample.json: {sorted(uncommented)}"


def test_production_refuses_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    """In production, dev secrets are refused and the error names the variables to set."""
    monkeypatch.setenv("SYNAPSE_ENV", "production")
    with pytest.raises(ConfigError) as info:
        load_settings()
    for name in ("SYNAPSE_JWT_SECRET", "DISCORD_BOT_TOKEN", "SYNAPSE_DATABASE_URL"):
        assert name in info.value.message


def test_production_accepts_real_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """With real values set, production settings load."""
    for name, value in {"SYNAPSE_ENV": "production", "SYNAPSE_DATABASE_URL": "postgresql://u@db/synapse",
                        "SYNAPSE_JWT_SECRET": "k" * 40, "SYNAPSE_FINGERPRINT_KEY": "f" * 32,
                        "DISCORD_APPLICATION_ID": "123", "DISCORD_PUBLIC_KEY": "ab" * 32,
                        "DISCORD_BOT_TOKEN": "token.value.x"}.items():
        monkeypatch.setenv(name, value)
    assert load_settings().environment == "production"


@pytest.mark.parametrize(("name", "value"), [("SYNAPSE_DATABASE_URL", "mysql://x"),
                                             ("SYNAPSE_LOG_LEVEL", "loud"), ("SYNAPSE_HTTP_PORT", "0")])
def test_bad_values_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """A bad value is reported with the variable it came from."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert name in info.value.message


def test_test_login_only_in_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """The browser-test login path cannot be switched on in development or production."""
    monkeypatch.setenv("SYNAPSE_ENV", "development")
    monkeypatch.setenv("SYNAPSE_TEST_LOGIN", "true")
    with pytest.raises(ConfigError):
        load_settings()
