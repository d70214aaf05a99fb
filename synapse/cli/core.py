"""Foundation commands: ``db``, ``guild``, ``ledger``."""

from __future__ import annotations

import time

import typer

from synapse.cli.common import console, engine, out, snowflake

db_app = typer.Typer(help="The database: migrate, start and stop the embedded server.", no_args_is_help=True)
guild_app = typer.Typer(help="Guilds: install defaults.", no_args_is_help=True)
ledger_app = typer.Typer(help="The ledger: verify balances.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Alembic revision to migrate to")) -> None:
    """Migrate the configured database (or the embedded one) to the latest schema."""
    from synapse.db.migrate import upgrade

    began = time.perf_counter()
    upgrade(engine(), revision)
    out.print(f"database migrated to {revision} in {time.perf_counter() - began:.2f}s")


@db_app.command("url")
def db_url() -> None:
    """Print the libpq URL of the database Synapse uses (starting the embedded one if needed)."""
    from synapse.bootstrap import container

    out.print(container().database_url)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (it otherwise keeps running between commands)."""
    from synapse.config import get_settings
    from synapse.db import embedded

    stopped = embedded.stop(get_settings().data_dir)
    out.print("embedded postgresql stopped" if stopped else "embedded postgresql was not running")


def _guild_id(value: str) -> int:
    return snowflake(value, what="guild")


@guild_app.command("init")
def guild_init(guild_id: str = typer.Argument(..., help="The Discord guild (server) id"),
               name: str = typer.Option("", help="Display name")) -> None:
    """Install default currencies (xp, stars, gold), modules, settings, rules and milestones. Idempotent."""
    from synapse.admin.audit import CLI
    from synapse.services.guild_init import init_guild

    gid = _guild_id(guild_id)
    with engine().begin() as conn:
        report = init_guild(conn, gid, name=name, actor=CLI)
    if report.changed:
        listed = ", ".join(f"{k}: {v}" for k, v in report.installed.items() if v)
        out.print(f"guild {gid} {'created' if report.created_guild else 'updated'} ({listed or 'nothing new'})")
    else:
        out.print(f"guild {gid} already initialised; nothing changed")


@ledger_app.command("verify")
def ledger_verify(guild: str | None = typer.Option(None, help="Only this guild")) -> None:
    """Check balance == SUM(transactions) for every wallet; exit 1 naming any that drift."""
    from synapse.db import ledger_store

    gid = _guild_id(guild) if guild else None
    with engine().connect() as conn:
        drifts = ledger_store.verify(conn, gid)
        wallets = ledger_store.count_wallets(conn, gid)
    if drifts:
        for d in drifts:
            console.print(f"[red]drift[/] guild {d.guild_id} member {d.user_id} {d.currency}: "
                          f"balance {d.balance} != sum {d.ledger_sum}")
        console.print(f"{len(drifts)} of {wallets} wallets drift; "
                      "post corrections, and report it: it means a bug bypassed the ledger")
        raise typer.Exit(1)
    out.print(f"ledger verified: {wallets} wallets, every balance equals the sum of its transactions")
