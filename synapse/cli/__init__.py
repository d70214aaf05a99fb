"""The ``synapse`` command line. Each area registers its own sub-app here."""

from __future__ import annotations

import sys

import typer

from synapse.cli import dev
from synapse.cli.commands import register_commands
from synapse.cli.common import run_cli
from synapse.cli.core import db_app, guild_app, ledger_app
from synapse.cli.imports import import_file
from synapse.cli.rules import rules_app

app = typer.Typer(help="Synapse: Event Lake, Rules Engine and Ledger for Discord communities.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
app.add_typer(db_app, name="db")
app.add_typer(guild_app, name="guild")
app.add_typer(ledger_app, name="ledger")
app.add_typer(rules_app, name="rules")
app.command("dev")(dev.dev)
app.command("simulate")(dev.simulate)
app.command("requeue-poison")(dev.requeue_poison)
app.command("register-commands")(register_commands)
app.command("import")(import_file)


def main() -> None:
    sys.exit(run_cli(app))
