"""``synapse rules``: export the JSON Schema, validate a rules file, backtest draft rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from synapse.cli.common import console, engine, out, snowflake

rules_app = typer.Typer(help="Rules: JSON Schema, validation, backtests of drafts.", no_args_is_help=True)


def _read(path: Path) -> Any:
    from synapse.errors import ErrorDetail, ValidationFailed

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationFailed(f"no such file: {path}", [ErrorDetail("$", "not found")]) from None
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{path} is not JSON", [ErrorDetail("$", f"{exc.msg} at line {exc.lineno}")]) from None


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    from synapse.errors import ErrorDetail, ValidationFailed

    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{value!r} is not a date",
                               [ErrorDetail("from/to", "use 2025-01-15 or 2025-01-15T14:30Z")],
                               hint="dates are ISO 8601; without a zone they are UTC") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@rules_app.command("schema")
def schema(output: Path | None = typer.Option(None, "--out", help="write to this file instead of stdout")) -> None:
    """Print the JSON Schema of a rule (what the dashboard editor validates against)."""
    from synapse.rules.model import rules_schema

    text = json.dumps(rules_schema(), indent=2, ensure_ascii=False)
    if output is None:
        print(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        out.print(f"schema written to {output}")


@rules_app.command("validate")
def validate(path: Path = typer.Argument(..., help="a rule, a list of rules, or {\"rules\": [...]}"),
             guild: str | None = typer.Option(None, help="also check currencies/regions/tags of this guild")) -> None:
    """Validate a rules file; every problem is listed with its JSON path."""
    from synapse.errors import ValidationFailed
    from synapse.rules.model import ValidationContext, validate_rules

    context = ValidationContext()
    if guild is not None:
        from synapse.db.rules_store import validation_context

        with engine().connect() as conn:
            context = validation_context(conn, snowflake(guild))
    try:
        rules = validate_rules(_read(path), context=context)
    except ValidationFailed as exc:
        for e in exc.errors:
            console.print(f"  [cyan]{e.path}[/]: {e.message}")
        raise ValidationFailed(f"{path}: {len(exc.errors)} problem(s), listed above",
                               hint="fix them and run `synapse rules validate` again") from None
    out.print(f"[green]{path}: {len(rules)} rule(s) valid[/]")


@rules_app.command("backtest")
def backtest_cmd(
        guild: str = typer.Option(..., help="guild id"),
        rules: Path = typer.Option(..., help="draft rules file (a rule with an id replaces that live rule)"),
        from_: str | None = typer.Option(None, "--from", help="start of the range (ISO 8601, UTC by default)"),
        to: str | None = typer.Option(None, help="end of the range (exclusive)"),
        only: bool = typer.Option(False, help="run the draft alone instead of overlaid on the live rules"),
        as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Run draft rules over the Event Lake without writing anything; compare with the live rules."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from synapse.db.rules_store import validation_context
    from synapse.rules.model import validate_rules
    from synapse.services.backtest import count_events, run_backtest_readonly

    guild_id = snowflake(guild)
    start, end = _when(from_), _when(to)
    eng = engine()
    with eng.connect() as conn:
        draft = validate_rules(_read(rules), context=validation_context(conn, guild_id))
        total = count_events(conn, guild_id, start, end)
    with Progress(TextColumn("[bold]backtest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=as_json) as bar:
        task = bar.add_task("events", total=total)
        # READ ONLY and rolled back: PostgreSQL itself refuses any write.
        result = run_backtest_readonly(eng, guild_id, draft, start=start, end=end, only_draft=only,
                                       progress=lambda n: bar.update(task, completed=min(n, total)))
    if as_json:
        print(json.dumps({"draft": result.draft.as_dict(),
                          "live": None if result.live is None else result.live.as_dict(),
                          "diff": None if result.diff is None else result.diff.as_dict()}, indent=2))
        return
    _print_report(result)


def _print_report(result: Any) -> None:
    from rich.table import Table

    d = result.draft
    span = f"{result.start or 'the beginning'} → {result.end or 'now'}"
    out.print(f"[bold]Backtest[/] over {d.events:,} events ({span}); {d.postings:,} postings, "
              f"{d.derived:,} derived events")
    table = Table("currency", "draft total", "live total", "change", "members", "p50", "p90", "Gini")
    for cur in sorted({c for _, c in d.deltas}):
        dist = d.distribution.get(cur)
        live_total = result.live.total(cur) if result.live else None
        table.add_row(cur, f"{d.total(cur):,}", "-" if live_total is None else f"{live_total:,}",
                      "-" if live_total is None else f"{d.total(cur) - live_total:+,}",
                      str(dist.members if dist else 0), str(dist.p50 if dist else 0),
                      str(dist.p90 if dist else 0), f"{dist.gini:.3f}" if dist else "-")
    out.print(table)
    out.print(f"level-ups: {len(d.level_ups):,}   milestones: {len(d.milestones):,}   "
              f"role changes: {len(d.role_changes):,}   announcements: {d.announcements:,}")
    if result.diff is not None:
        diff = result.diff
        out.print(f"vs live: level-ups {diff.level_ups:+,}, milestones {diff.milestones:+,}, "
                  f"role changes {diff.role_changes:+,}, announcements {diff.announcements:+,}; "
                  f"{len(diff.members):,} member balance(s) would differ")
        top = sorted(diff.members.items(), key=lambda kv: -abs(kv[1]))[:10]
        if top:
            changes = Table("member", "currency", "change")
            for (user, cur), change in top:
                changes.add_row(str(user), cur, f"{change:+,}")
            out.print(changes)
    ups = Table("member", "currency", "level")
    for user, cur, old, new in d.level_ups[:15]:
        ups.add_row(str(user), cur, f"{old} → {new}")
    if d.level_ups:
        out.print(ups)
