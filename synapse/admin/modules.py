"""Modules: feature flags per guild (DESIGN.md, seed D02-09). A module that is off skips its
rules, its API endpoints answer 404, its commands say so, and its dashboard pages hide."""

from __future__ import annotations

from typing import Final

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.errors import ErrorDetail, NotFound, ValidationFailed

DEFAULTS: Final = {
    "economy": True,
    "milestones": True,
    "analytics": True,
    "announcements": True,
    "seasons": False,
}


def enabled_modules(conn: Connection, guild_id: int) -> dict[str, bool]:
    rows = conn.execute(text("SELECT key, enabled FROM modules WHERE guild_id = :g"), {"g": guild_id})
    state = dict(DEFAULTS)
    state.update({r.key: r.enabled for r in rows})
    return state


def is_enabled(conn: Connection, guild_id: int, module: str) -> bool:
    return enabled_modules(conn, guild_id).get(module, False)


def require_enabled(conn: Connection, guild_id: int, module: str) -> None:
    if not is_enabled(conn, guild_id, module):
        raise NotFound(f"the {module} module is off in this server",
                       hint="an admin can turn it on under Modules in the dashboard")


def set_module(conn: Connection, guild_id: int, module: str, enabled: bool, *, actor: Actor) -> bool:
    """Turn a module on or off (audited). Returns the previous state."""
    if module not in DEFAULTS:
        raise ValidationFailed("unknown module", [ErrorDetail("module", f"{module!r} is not one of "
                                                                        f"{', '.join(DEFAULTS)}")])
    before = enabled_modules(conn, guild_id)[module]
    conn.execute(text("""
        INSERT INTO modules (guild_id, key, enabled) VALUES (:g, :k, :e)
        ON CONFLICT (guild_id, key) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()"""),
        {"g": guild_id, "k": module, "e": enabled})
    if before != enabled:
        record(conn, guild_id=guild_id, actor=actor, action="module.set", entity_type="module",
               entity_id=module, before={"enabled": before}, after={"enabled": enabled})
    return before


def install_defaults(conn: Connection, guild_id: int) -> int:
    """Insert the default module states that are missing; return how many were added."""
    added = 0
    for key, enabled in DEFAULTS.items():
        added += conn.execute(text("""
            INSERT INTO modules (guild_id, key, enabled) VALUES (:g, :k, :e)
            ON CONFLICT DO NOTHING"""), {"g": guild_id, "k": key, "e": enabled}).rowcount
    return added
