"""What Synapse set up in a guild by itself (onboarding): the admin start page shows it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from synapse.api import schemas
from synapse.api.deps import AdminDep, GuildId, ReadConn
from synapse.services import onboarding
from synapse.services.queries import guild_row

ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": schemas.ErrorResponse} for code in (401, 403, 404)}

router = APIRouter(prefix="/api/guilds/{guild_id}/admin", tags=["admin: operations"], responses=ERRORS)


@router.get("/setup", response_model=schemas.GuildSetup,
            summary="What was installed when the guild set itself up, and what is there now")
def setup(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> schemas.GuildSetup:
    guild_row(conn, guild_id)
    s = onboarding.setup_summary(conn, guild_id)
    return schemas.GuildSetup(initialised_at=s.initialised_at, door=s.door, installed=s.installed,
                              currencies=s.currencies, rules=s.rules, milestones=s.milestones,
                              modules_on=s.modules_on)
