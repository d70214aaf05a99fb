"""What every CLI command shares: settings, the engine, errors printed as what-to-do-next."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from synapse.errors import SynapseError

console = Console(stderr=True)
out = Console()


def run_cli(app: typer.Typer) -> int:
    try:
        app(standalone_mode=False)
    except SynapseError as exc:
        console.print(f"[bold red]error:[/] {exc.message}")
        if exc.hint:
            console.print(f"[yellow]next:[/] {exc.hint}")
        return 2
    except typer.Abort:
        console.print("aborted")
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except Exception as exc:  # click usage errors carry their own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


def engine() -> Any:
    from synapse import logs
    from synapse.bootstrap import container

    c = container()
    logs.configure(c.settings.log_level, json_output=False)
    return c.engine
