"""The guild directory in PostgreSQL: a guild's channels and roles (names for ids), its AFK channel
and the bot's own roles (migration 0010).

Rows are never removed: a channel or role that vanished from Discord keeps its last name with
``deleted_at`` set (undone if it comes back), so old rules and regions still show what they
named. Writes carry the time they describe (``at``): a relay event older than the row it would
change is ignored, so a redelivered or late message cannot roll a name back.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, text

Kind = Literal["channel", "role"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One channel (``type``, ``parent_id``) or role (``managed``, ``color``, ``booster``: the server-booster
    role) as the directory keeps it."""

    kind: Kind
    id: int
    name: str
    position: int = 0
    type: int | None = None
    parent_id: int | None = None
    managed: bool = False
    color: int = 0
    booster: bool = False
    deleted_at: datetime | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True, slots=True)
class State:
    afk_channel_id: int | None
    bot_role_ids: tuple[int, ...]
    refreshed_at: datetime | None


_COLUMNS = "kind, id, name, position, type, parent_id, managed, color, booster, deleted_at"

_UPSERT = text("""
    INSERT INTO guild_directory (guild_id, kind, id, name, position, type, parent_id, managed, color, booster,
                                 deleted_at, fetched_at)
    VALUES (:g, :kind, :id, :name, :position, :type, :parent_id, :managed, :color, :booster, NULL, :at)
    ON CONFLICT (guild_id, kind, id) DO UPDATE
       SET name = EXCLUDED.name, position = EXCLUDED.position, type = EXCLUDED.type,
           parent_id = EXCLUDED.parent_id, managed = EXCLUDED.managed, color = EXCLUDED.color,
           booster = EXCLUDED.booster, deleted_at = NULL, fetched_at = EXCLUDED.fetched_at
     WHERE guild_directory.fetched_at <= EXCLUDED.fetched_at""")


def _entry(r: Any) -> Entry:
    return Entry(kind=r.kind, id=int(r.id), name=r.name, position=int(r.position), type=r.type,
                 parent_id=None if r.parent_id is None else int(r.parent_id), managed=bool(r.managed),
                 color=int(r.color), booster=bool(r.booster), deleted_at=r.deleted_at)


def upsert(conn: Connection, guild_id: int, entries: Iterable[Entry], *, at: datetime) -> None:
    """Insert or update entries (undeleting them), unless the stored row is newer than ``at``."""
    params = [{"g": guild_id, "kind": e.kind, "id": e.id, "name": e.name, "position": e.position, "type": e.type,
               "parent_id": e.parent_id, "managed": e.managed, "color": e.color,
               "booster": e.booster, "at": at} for e in entries]
    if params:
        conn.execute(_UPSERT, params)


def mark_deleted(conn: Connection, guild_id: int, kind: Kind, ids: Collection[int], *, at: datetime) -> None:
    """Flag entries as vanished (kept, with their last name). Unknown ids get a nameless deleted row."""
    if not ids:
        return
    conn.execute(text("""
        INSERT INTO guild_directory (guild_id, kind, id, deleted_at, fetched_at)
        SELECT :g, :k, unnest(CAST(:ids AS bigint[])), :at, :at
        ON CONFLICT (guild_id, kind, id) DO UPDATE
           SET deleted_at = COALESCE(guild_directory.deleted_at, EXCLUDED.deleted_at),
               fetched_at = EXCLUDED.fetched_at
         WHERE guild_directory.fetched_at <= EXCLUDED.fetched_at"""),
        {"g": guild_id, "k": kind, "ids": sorted(ids), "at": at})


def replace(conn: Connection, guild_id: int, entries: Sequence[Entry], *, afk_channel_id: int | None,
            bot_role_ids: Collection[int], at: datetime) -> None:
    """A full fetch: store ``entries``, mark every other live channel and role deleted, save the state."""
    upsert(conn, guild_id, entries, at=at)
    for kind in ("channel", "role"):
        present = [e.id for e in entries if e.kind == kind]
        conn.execute(text("""
            UPDATE guild_directory SET deleted_at = :at, fetched_at = :at
             WHERE guild_id = :g AND kind = :k AND deleted_at IS NULL AND id <> ALL(CAST(:ids AS bigint[]))"""),
            {"g": guild_id, "k": kind, "ids": present, "at": at})
    set_state(conn, guild_id, afk_channel_id=afk_channel_id, bot_role_ids=bot_role_ids, refreshed_at=at)


_UNSET: object = object()


def set_state(conn: Connection, guild_id: int, *, afk_channel_id: int | object | None = _UNSET,
              bot_role_ids: Collection[int] | object = _UNSET, refreshed_at: datetime | None = None) -> None:
    """Change what is given (the rest stays); ``refreshed_at`` only moves forward."""
    afk_given = afk_channel_id is not _UNSET
    roles_given = bot_role_ids is not _UNSET
    conn.execute(text("""
        INSERT INTO guild_directory_state (guild_id, afk_channel_id, bot_role_ids, refreshed_at)
        VALUES (:g, CASE WHEN :afk_given THEN CAST(:afk AS bigint) END,
                COALESCE(CAST(:roles AS bigint[]), '{}'), :refreshed)
        ON CONFLICT (guild_id) DO UPDATE
           SET afk_channel_id = CASE WHEN :afk_given THEN EXCLUDED.afk_channel_id
                                     ELSE guild_directory_state.afk_channel_id END,
               bot_role_ids = CASE WHEN :roles_given THEN EXCLUDED.bot_role_ids
                                   ELSE guild_directory_state.bot_role_ids END,
               refreshed_at = GREATEST(guild_directory_state.refreshed_at, EXCLUDED.refreshed_at),
               updated_at = now()"""),
        {"g": guild_id, "afk_given": afk_given, "afk": afk_channel_id if afk_given else None,
         "roles_given": roles_given,
         "roles": sorted(bot_role_ids) if isinstance(bot_role_ids, Collection) else None,
         "refreshed": refreshed_at})


def state(conn: Connection, guild_id: int) -> State | None:
    row = conn.execute(text("""SELECT afk_channel_id, bot_role_ids, refreshed_at FROM guild_directory_state
                                WHERE guild_id = :g"""), {"g": guild_id}).first()
    if row is None:
        return None
    return State(afk_channel_id=None if row.afk_channel_id is None else int(row.afk_channel_id),
                 bot_role_ids=tuple(int(r) for r in row.bot_role_ids or ()), refreshed_at=row.refreshed_at)


def entries(conn: Connection, guild_id: int, kind: Kind, *, q: str = "", include_deleted: bool = False,
            limit: int = 500) -> list[Entry]:
    """Channels or roles, in Discord's order (position, then id); ``q`` matches names, case-insensitively."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" if q else None
    rows = conn.execute(text(f"""
        SELECT {_COLUMNS} FROM guild_directory
         WHERE guild_id = :g AND kind = :k AND (:all OR deleted_at IS NULL)
           AND (CAST(:p AS text) IS NULL OR name ILIKE :p OR CAST(id AS text) = :q)
         ORDER BY deleted_at IS NOT NULL, position, id LIMIT :n"""),
        {"g": guild_id, "k": kind, "all": include_deleted, "p": pattern, "q": q, "n": limit})
    return [_entry(r) for r in rows]


def lookup(conn: Connection, guild_id: int, kind: Kind, ids: Collection[int]) -> dict[int, Entry]:
    """The entries of ``ids`` the directory knows (deleted ones included)."""
    if not ids:
        return {}
    rows = conn.execute(text(f"""SELECT {_COLUMNS} FROM guild_directory
                                  WHERE guild_id = :g AND kind = :k AND id = ANY(CAST(:ids AS bigint[]))"""),
                        {"g": guild_id, "k": kind, "ids": sorted(ids)})
    return {int(r.id): _entry(r) for r in rows}


def afk_channel(conn: Connection, guild_id: int) -> int | None:
    return conn.execute(text("SELECT afk_channel_id FROM guild_directory_state WHERE guild_id = :g"),
                        {"g": guild_id}).scalar_one_or_none()


__all__ = ["Entry", "Kind", "State", "afk_channel", "entries", "lookup", "mark_deleted", "replace",
           "set_state", "state", "upsert"]
