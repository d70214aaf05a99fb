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
    except Exception as exc:
        # Usage errors (typer's bundled click) know how to print themselves and their exit code.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exit_code
        raise
    return 0


def snowflake(value: str, *, what: str = "guild") -> int:
    """Parse a Discord id given on the command line, or say what is wrong with it."""
    from synapse.errors import ErrorDetail, ValidationFailed

    if not value.isdigit() or len(value) > 20 or int(value) >= 2**63:
        raise ValidationFailed(f"{value!r} is not a Discord {what} id", [ErrorDetail(what, "digits only")],
                               hint=f"copy the {what} id from Discord (Developer Mode → Copy ID)")
    return int(value)


def engine() -> Any:
    from synapse import logs
    from synapse.bootstrap import container

    c = container()
    logs.configure(c.settings.log_level, json_output=False)
    return c.engine
