"""Install what a new guild needs: default currencies, modules, settings (and the default rule pack).

Idempotent: running it again adds only what is missing and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from synapse.admin import currencies, modules, settings
from synapse.admin.audit import SYSTEM, Actor, record


@dataclass
class InitReport:
    guild_id: int
    created_guild: bool = False
    installed: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.created_guild or any(self.installed.values())


def ensure_guild(conn: Connection, guild_id: int, name: str = "") -> bool:
    """Make sure the guild row exists; return whether it was created."""
    return bool(conn.execute(text("INSERT INTO guilds (guild_id, name) VALUES (:g, :n) ON CONFLICT DO NOTHING"),
                             {"g": guild_id, "n": name}).rowcount)


def init_guild(conn: Connection, guild_id: int, *, name: str = "", actor: Actor = SYSTEM) -> InitReport:
    report = InitReport(guild_id, created_guild=ensure_guild(conn, guild_id, name))
    report.installed["currencies"] = currencies.install_defaults(conn, guild_id)
    report.installed["modules"] = modules.install_defaults(conn, guild_id)
    report.installed["settings"] = settings.install_defaults(conn, guild_id)
    report.installed.update(_install_rule_pack(conn, guild_id))
    if report.changed:
        record(conn, guild_id=guild_id, actor=actor, action="guild.init", entity_type="guild",
               entity_id=guild_id, after=report.installed)
    return report


def _install_rule_pack(conn: Connection, guild_id: int) -> dict[str, int]:
    # The pack is pure data (synapse/rules/defaults.py); the rules store writes it (pillars never touch the DB).
    from synapse.db import rules_store

    return rules_store.install_defaults(conn, guild_id)
