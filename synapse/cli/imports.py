"""``synapse import FILE --guild G --currency xp [--format mee6|csv]``: opening balances from another bot.

Shows the preview (members, total, level distribution, problems) and asks before applying,
unless ``--yes``; ``--dry-run`` stops after the preview. Importing the same file again is a
no-op that says so (``import_batches`` keeps the file's SHA-256).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from synapse.cli.common import console, engine, out, snowflake


def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="MEE6 leaderboard JSON, or a CSV of user_id,xp"),
    guild: str = typer.Option(..., "--guild", "-g", help="The Discord guild (server) id"),
    currency: str = typer.Option("xp", help="The currency to credit"),
    format: str = typer.Option("", "--format", "-f", help="mee6 or csv (default: from the file name)"),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show the preview"),
) -> None:
    """Import opening balances as `import` transactions (idempotent per file)."""
    from datetime import UTC, datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from synapse.admin.audit import CLI
    from synapse.services import imports

    gid = snowflake(guild, what="guild")
    fmt = format or ("csv" if file.suffix.lower() == ".csv" else "mee6")
    if fmt not in ("mee6", "csv"):
        raise typer.BadParameter("--format must be mee6 or csv")
    kind: Literal["mee6", "csv"] = "csv" if fmt == "csv" else "mee6"
    parsed = imports.parse(file.read_bytes(), kind)
    eng = engine()
    with eng.connect() as conn:
        preview = imports.preview(conn, gid, parsed, currency, sample=10)
    table = Table(title=f"{file.name}: {preview['members']:,} members, {preview['total']:,} {currency}")
    for column in ("member", "name", "amount", "balance after", "level after"):
        table.add_column(column)
    for row in preview["rows"]:
        table.add_row(row["user_id"], row["username"] or "", f"{row['amount']:,}", f"{row['balance_after']:,}",
                      "" if row["level_after"] is None else str(row["level_after"]))
    out.print(table)
    if preview["levels"]:
        top = sorted(preview["levels"], key=lambda x: -x["level"])[:5]
        out.print("highest levels: " + ", ".join(f"level {x['level']}: {x['members']}" for x in top))
    for p in preview["problems"][:10]:
        console.print(f"[yellow]skipped[/] {p['path']}: {p['message']}")
    if preview["already_imported"]:
        out.print(f"this file was already imported (import {preview['import_id']}); nothing to do")
        return
    if dry_run or (not yes and not typer.confirm(f"post {preview['members']:,} import transactions?")):
        out.print("nothing written")
        return
    with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        task = bar.add_task("import", total=preview["members"])
        with eng.begin() as conn:
            result = imports.apply(conn, gid, parsed, currency, actor=CLI, at=datetime.now(UTC),
                                   filename=file.name, progress=lambda n: bar.update(task, completed=n))
    out.print(f"import {result['import_id']}: {result['posted']:,} members credited, "
              f"{result['total']:,} {currency} in total")
