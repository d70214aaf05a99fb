"""Lookups behind authentication: guild admin roles at login, guild names, API tokens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class GuildAccess:
    """A guild Synapse knows, its configured admin roles, and the roles the user holds there (cached)."""

    guild_id: int
    admin_role_ids: frozenset[int]
    member_roles: frozenset[int]


def guild_access(conn: Connection, user_id: int, guild_ids: Iterable[int]) -> list[GuildAccess]:
    """Of ``guild_ids``, those Synapse knows, with what decides whether ``user_id`` administers them."""
    rows = conn.execute(text("""
        SELECT g.guild_id, s.value AS admin_roles, m.roles
          FROM guilds g
          LEFT JOIN settings s ON s.guild_id = g.guild_id AND s.key = 'admin_role_ids'
          LEFT JOIN member_cache m ON m.guild_id = g.guild_id AND m.user_id = :u
         WHERE g.guild_id = ANY(:ids)"""), {"u": user_id, "ids": list(guild_ids)}).all()
    return [GuildAccess(int(r.guild_id), frozenset(int(x) for x in (r.admin_roles or []) if str(x).isdigit()),
                        frozenset(int(x) for x in (r.roles or []))) for r in rows]


def guild_names(conn: Connection, guild_ids: Iterable[int]) -> list[tuple[int, str]]:
    """(guild id, name) of the known guilds among ``guild_ids``, by name."""
    rows = conn.execute(text("SELECT guild_id, name FROM guilds WHERE guild_id = ANY(:ids) ORDER BY name"),
                        {"ids": list(guild_ids)})
    return [(int(r.guild_id), r.name) for r in rows]


def live_token_id(conn: Connection, guild_id: int, token_hash: str) -> int | None:
    """The id of the guild's unrevoked API token with this SHA-256 hash, or None."""
    token_id = conn.execute(text("""
        SELECT token_id FROM api_tokens WHERE guild_id = :g AND token_hash = :h AND revoked_at IS NULL"""),
        {"g": guild_id, "h": token_hash}).scalar()
    return None if token_id is None else int(token_id)
