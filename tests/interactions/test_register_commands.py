"""``synapse register-commands``: bulk overwrite through the REST client, printing what changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from synapse.bootstrap import Container, set_container
from synapse.cli import app
from synapse.interactions.definitions import commands
from tests.support.fake_discord import FakeDiscord, fake_discord  # noqa: F401

ADMIN_COMMANDS = {"award", "create-milestone", "grant-milestone"}


@pytest.fixture
def cli(fake_discord: FakeDiscord) -> Iterator[CliRunner]:  # noqa: F811
    set_container(Container(fake_discord.settings(environment="test"), database_url="postgresql://unused/x"))
    try:
        yield CliRunner()
    finally:
        set_container(None)


def test_guild_registration_then_nothing_to_change(cli: CliRunner, fake_discord: FakeDiscord) -> None:  # noqa: F811
    """First run adds every command to the guild; the second finds them unchanged."""
    first = cli.invoke(app, ["register-commands", "--guild", "789"])
    assert first.exit_code == 0, first.output
    assert [line.split() for line in first.output.splitlines()[:len(commands())]] == [
        ["added", f"/{c['name']}"] for c in commands()]
    stored = {c["name"]: c for c in fake_discord.commands["789"]}
    assert set(stored) == {c["name"] for c in commands()}
    for name, command in stored.items():
        expected = "32" if name in ADMIN_COMMANDS else None
        assert command.get("default_member_permissions") == expected, name
        assert command["contexts"] == [0]
    second = cli.invoke(app, ["register-commands", "--guild", "789"])
    assert "unchanged /profile" in second.output and "added" not in second.output


def test_global_registration_reports_changes_and_removals(cli: CliRunner, fake_discord: FakeDiscord) -> None:  # noqa: F811
    """Global scope: a stale command is reported removed, an edited one changed; --dry-run sends nothing."""
    with fake_discord.client() as rest:
        rest.bulk_overwrite_commands([{"name": "old-thing", "type": 1, "description": "gone"},
                                      {"name": "profile", "type": 1, "description": "outdated text"}])
    dry = cli.invoke(app, ["register-commands", "--dry-run"])
    assert "removed   /old-thing" in dry.output and "changed   /profile" in dry.output
    assert {c["name"] for c in fake_discord.commands[None]} == {"old-thing", "profile"}
    real = cli.invoke(app, ["register-commands"])
    assert real.exit_code == 0 and f"registered {len(commands())} commands (global)" in real.output
    assert "old-thing" not in {c["name"] for c in fake_discord.commands[None]}


def test_bad_guild_id_is_a_usage_error(cli: CliRunner) -> None:
    result = cli.invoke(app, ["register-commands", "--guild", "abc"])
    assert result.exit_code != 0
