"""Admin: level roles (the table, stack/replace, "sync now") and the template placeholders. Audited.

The table and the mode change what the engine does on every level-up (``services.level_roles``);
"sync now" is a preview (GET, nothing written) and an apply (POST with the preview's token).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from synapse.api import schemas
from synapse.api.deps import AdminDep, GuildId, ReadConn, WriteConn
from synapse.services import level_roles
from synapse.services.queries import guild_row

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (401, 403, 404, 409, 422)}

router = APIRouter(prefix="/api/guilds/{guild_id}/admin", tags=["admin: level roles"], responses=ERRORS)


@router.get("/settings/placeholders", response_model=schemas.TemplatePlaceholders,
            summary="The placeholders levelup_template and milestone_template may use (with preview samples)")
def get_placeholders(guild_id: GuildId, _: AdminDep) -> schemas.TemplatePlaceholders:
    return schemas.TemplatePlaceholders.model_validate(level_roles.placeholders())


@router.get("/level-roles", response_model=schemas.LevelRolesOut,
            summary="The level role table (level N of a currency → role) and level_role_mode")
def get_level_roles(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> schemas.LevelRolesOut:
    guild_row(conn, guild_id)
    return schemas.LevelRolesOut.model_validate(level_roles.table_json(conn, guild_id))


@router.put("/level-roles", response_model=schemas.LevelRolesOut,
            summary="Replace the level role table (and the mode); every bad row → 422 with its path")
def put_level_roles(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.LevelRolesIn
                    ) -> schemas.LevelRolesOut:
    guild_row(conn, guild_id)
    level_roles.save(conn, guild_id, body.rows, mode=body.mode, actor=s.actor())
    return schemas.LevelRolesOut.model_validate(level_roles.table_json(conn, guild_id))


@router.get("/level-roles/sync", response_model=schemas.LevelRoleSync,
            summary="Sync now, preview: which members would get or lose which level role (nothing written)")
def preview_sync(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> schemas.LevelRoleSync:
    guild_row(conn, guild_id)
    plan = level_roles.preview(conn, guild_id)
    return schemas.LevelRoleSync.model_validate(level_roles.plan_json(conn, guild_id, plan))


@router.post("/level-roles/sync", response_model=schemas.LevelRoleSync,
             summary="Sync now, apply: queue the preview's role changes (409 if they changed since; "
                     "applying twice queues nothing twice)")
def apply_sync(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.LevelRoleSyncIn
               ) -> schemas.LevelRoleSync:
    guild_row(conn, guild_id)
    plan, ids = level_roles.apply(conn, guild_id, body.token, actor=s.actor())
    return schemas.LevelRoleSync.model_validate(level_roles.plan_json(conn, guild_id, plan, ids))
