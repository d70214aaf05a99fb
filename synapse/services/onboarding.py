"""A guild sets itself up the first time Synapse sees it: no CLI step between inviting the bot and earning.

Three doors lead here, whichever comes first:

- the relay's ``guild_join`` event (the bot joined the guild, or found it available at start-up;
  keyed by the guild alone, so the lake keeps only the first) and, as a backstop, the first
  event of any kind for a guild Synapse has no row for (``services/rules_runner.load_context``);
- the first slash command used in the guild (``interactions/dispatch``);
- the first dashboard login of one of its admins, for guilds the bot is in (``api/auth``).

Each calls :func:`ensure`, which installs the default pack (``guild_init.init_guild``: currencies,
modules, settings, rules, milestones) in the caller's transaction, with its ``guild.init`` audit
row, and does nothing for a guild that already has a row. :func:`setup_summary` is what the
dashboard shows an admin about what was installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from synapse.admin.audit import Actor
from synapse.services.guild_init import InitReport, init_guild


def known(conn: Connection, guild_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM guilds WHERE guild_id = :g"), {"g": guild_id}).first() is not None


def ensure(conn: Connection, guild_id: int, *, name: str = "", door: str = "event") -> InitReport | None:
    """Initialise the guild if Synapse has never seen it (in the caller's transaction); None if it had."""
    if known(conn, guild_id):
        return None
    return init_guild(conn, guild_id, name=name[:100], actor=Actor("system", request_id=f"onboarding:{door}"))


def ensure_committed(engine: Engine, guild_id: int, *, name: str = "", door: str) -> InitReport | None:
    """:func:`ensure` in a transaction of its own (for callers whose own work is read-only)."""
    with engine.connect() as conn:
        if known(conn, guild_id):
            return None
    with engine.begin() as conn:
        return ensure(conn, guild_id, name=name, door=door)


def adopt(conn: Connection, admin_guilds: dict[int, str], bot_guilds: set[int]) -> list[int]:
    """At an admin's login: set up the guilds they administer that the bot is in; return those set up."""
    done = []
    for guild_id in sorted(admin_guilds.keys() & bot_guilds):
        if ensure(conn, guild_id, name=admin_guilds[guild_id], door="login") is not None:
            done.append(guild_id)
    return done


@dataclass(frozen=True)
class SetupSummary:
    """What Synapse installed when the guild was set up, and what of it is there now."""

    initialised_at: datetime | None
    door: str | None                       # event | interaction | login | cli (None: before onboarding existed)
    installed: dict[str, int] = field(default_factory=dict)
    currencies: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    milestones: list[str] = field(default_factory=list)
    modules_on: list[str] = field(default_factory=list)


def setup_summary(conn: Connection, guild_id: int) -> SetupSummary:
    first = conn.execute(text("""
        SELECT created_at, actor_kind, request_id, after FROM admin_log
         WHERE guild_id = :g AND action = 'guild.init' ORDER BY id LIMIT 1"""), {"g": guild_id}).first()
    names = conn.execute(text("""
        SELECT (SELECT COALESCE(array_agg(name ORDER BY key), '{}') FROM currencies WHERE guild_id = :g) AS currencies,
               (SELECT COALESCE(array_agg(name ORDER BY priority DESC, rule_id), '{}') FROM rules
                 WHERE guild_id = :g AND deleted_at IS NULL AND enabled) AS rules,
               (SELECT COALESCE(array_agg(name ORDER BY milestone_id), '{}') FROM milestones
                 WHERE guild_id = :g AND enabled) AS milestones,
               (SELECT COALESCE(array_agg(key ORDER BY key), '{}') FROM modules
                 WHERE guild_id = :g AND enabled) AS modules_on"""), {"g": guild_id}).one()
    door: str | None = None
    installed: dict[str, Any] = {}
    if first is not None:
        request = first.request_id or ""
        door = request.split(":", 1)[1] if request.startswith("onboarding:") else first.actor_kind
        installed = {k: int(v) for k, v in (first.after or {}).items() if isinstance(v, int)}
    return SetupSummary(initialised_at=None if first is None else first.created_at, door=door, installed=installed,
                        currencies=list(names.currencies), rules=list(names.rules),
                        milestones=list(names.milestones), modules_on=list(names.modules_on))
