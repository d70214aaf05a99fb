"""Admin configuration: settings, modules, currencies, regions, taxonomy, milestones. Every change audited.

Each handler runs in one unit of work (``WriteConn``): the change and its ``admin_log`` row
commit together or not at all. The session must administer the path's guild (``AdminDep``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from synapse.admin import channel_groups, currencies
from synapse.admin import milestones as milestones_admin
from synapse.admin import modules as modules_admin
from synapse.admin import settings as settings_admin
from synapse.admin.currencies import CurrencySpec
from synapse.admin.settings import GuildSettings
from synapse.api import directory_schemas as ds
from synapse.api import schemas
from synapse.api.deps import AdminDep, GuildId, Now, ReadConn, WriteConn, engine, module, parse_snowflake, settings
from synapse.config import Settings
from synapse.db.uow import DbEngine
from synapse.services import directory
from synapse.services import milestones_admin as milestone_service
from synapse.services.queries import guild_row

if TYPE_CHECKING:
    from synapse.discord.rest import DiscordRest

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (401, 403, 404, 409, 422)}

router = APIRouter(prefix="/api/guilds/{guild_id}/admin", tags=["admin"], responses=ERRORS)

Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
Milestones = [Depends(module("milestones"))]


# ---------------------------------------------------------------- the guild directory (names for ids)

def discord_rest(cfg: Annotated[Settings, Depends(settings)]) -> Iterator[Any]:
    """A Discord client for directory refreshes (None without credentials); short waits, one retry."""
    from synapse.services.announce import rest_from_settings

    rest = rest_from_settings(cfg, max_retries=1, max_inline_wait=2.0)
    try:
        yield rest
    finally:
        if rest is not None:
            rest.close()


Rest = Annotated[Any, Depends(discord_rest)]  # a DiscordRest, or None without credentials
Search = Annotated[str, Query(max_length=100, description="Part of a name (case-insensitive) or an exact id")]
IncludeDeleted = Annotated[bool, Query(description="Also list channels or roles deleted in Discord")]


def _fresh(eng: DbEngine, rest: DiscordRest | None, cfg: Settings, guild_id: int, now: Any, *,
           force: bool = False) -> directory.Freshness:
    return directory.ensure_fresh(eng, rest, guild_id, now=now, ttl=timedelta(seconds=cfg.directory_ttl_seconds),
                                  force=force)


@router.get("/channels", response_model=ds.ChannelList, summary="The server's channels with names "
            "(fetched from Discord, cached; for the channel pickers)")
def list_channels(guild_id: GuildId, _: AdminDep, conn: ReadConn, eng: Annotated[DbEngine, Depends(engine)],
                  rest: Rest, cfg: Annotated[Settings, Depends(settings)], now: Now, q: Search = "",
                  include_deleted: IncludeDeleted = False) -> ds.ChannelList:
    guild_row(conn, guild_id)
    fresh = _fresh(eng, rest, cfg, guild_id, now)
    return ds.ChannelList(refreshed_at=fresh.refreshed_at, refreshed=fresh.refreshed, error=fresh.error,
                          items=directory.listing(conn, guild_id, "channel", q=q, include_deleted=include_deleted))


@router.get("/roles", response_model=ds.RoleList, summary="The server's roles with names, highest first, and "
            "whether the bot can assign each (for the role pickers)")
def list_roles(guild_id: GuildId, _: AdminDep, conn: ReadConn, eng: Annotated[DbEngine, Depends(engine)],
               rest: Rest, cfg: Annotated[Settings, Depends(settings)], now: Now, q: Search = "",
               include_deleted: IncludeDeleted = False) -> ds.RoleList:
    guild_row(conn, guild_id)
    fresh = _fresh(eng, rest, cfg, guild_id, now)
    return ds.RoleList(refreshed_at=fresh.refreshed_at, refreshed=fresh.refreshed, error=fresh.error,
                       items=directory.listing(conn, guild_id, "role", q=q, include_deleted=include_deleted))


@router.post("/directory/refresh", response_model=ds.DirectoryStatus,
             summary="Fetch channel and role names from Discord now (instead of waiting for the cache to expire)")
def refresh_directory(guild_id: GuildId, _: AdminDep, conn: ReadConn, eng: Annotated[DbEngine, Depends(engine)],
                      rest: Rest, cfg: Annotated[Settings, Depends(settings)], now: Now) -> ds.DirectoryStatus:
    guild_row(conn, guild_id)
    fresh = _fresh(eng, rest, cfg, guild_id, now, force=True)
    return ds.DirectoryStatus(refreshed_at=fresh.refreshed_at, refreshed=fresh.refreshed, error=fresh.error)


# ---------------------------------------------------------------- settings and modules

class SettingsOut(GuildSettings):
    references: ds.References = ds.References()


def _settings_out(conn: Any, guild_id: int, value: GuildSettings) -> SettingsOut:
    refs = directory.settings_references(conn, guild_id, value.model_dump())
    return SettingsOut.model_validate({**value.model_dump(), "references": refs})


@router.get("/settings", response_model=SettingsOut, summary="Guild settings (with the names of the "
            "channels and roles they name)")
def get_settings(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> SettingsOut:
    guild_row(conn, guild_id)
    return _settings_out(conn, guild_id, settings_admin.load(conn, guild_id))


@router.patch("/settings", response_model=SettingsOut,
              summary="Change settings (announcement channels, admin roles, time zone, public visibility, …)")
def patch_settings(guild_id: GuildId, s: AdminDep, conn: WriteConn,
                   changes: Annotated[dict[str, Any], Body(description="Any subset of GuildSettings' fields")],
                   ) -> SettingsOut:
    guild_row(conn, guild_id)
    return _settings_out(conn, guild_id, settings_admin.update(conn, guild_id, changes, actor=s.actor()))


@router.get("/modules", response_model=schemas.Modules, summary="Module states")
def get_modules(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> schemas.Modules:
    guild_row(conn, guild_id)
    return schemas.Modules(modules=modules_admin.enabled_modules(conn, guild_id))


@router.put("/modules/{module_key}", response_model=schemas.Modules, summary="Turn a module on or off")
def put_module(guild_id: GuildId, s: AdminDep, conn: WriteConn, module_key: Annotated[str, Path(max_length=40)],
               body: schemas.ModuleToggle) -> schemas.Modules:
    guild_row(conn, guild_id)
    modules_admin.set_module(conn, guild_id, module_key, body.enabled, actor=s.actor())
    return schemas.Modules(modules=modules_admin.enabled_modules(conn, guild_id))


# ---------------------------------------------------------------- currencies

@router.get("/currencies", response_model=list[CurrencySpec], summary="All currencies, hidden ones included")
def list_currencies(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> list[CurrencySpec]:
    guild_row(conn, guild_id)
    return currencies.list_all(conn, guild_id)


@router.post("/currencies", response_model=CurrencySpec, status_code=201, summary="Create a currency")
def create_currency(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: CurrencySpec) -> CurrencySpec:
    guild_row(conn, guild_id)
    return currencies.create(conn, guild_id, body.model_dump(mode="json"), actor=s.actor())


@router.patch("/currencies/{key}", response_model=CurrencySpec, summary="Change a currency (not its key)")
def patch_currency(guild_id: GuildId, s: AdminDep, conn: WriteConn,
                   key: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,31}$")],
                   changes: Annotated[dict[str, Any], Body(description="Any subset of the currency's fields")],
                   ) -> CurrencySpec:
    guild_row(conn, guild_id)
    return currencies.update(conn, guild_id, key, changes, actor=s.actor())


# ---------------------------------------------------------------- regions and taxonomy

def _group_routes(kind: channel_groups.Kind, path: str, noun: str) -> None:
    @router.get(f"/{path}", response_model=list[schemas.ChannelGroup], summary=f"List {noun}s",
                name=f"list_{kind}")
    def list_groups(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> list[schemas.ChannelGroup]:
        guild_row(conn, guild_id)
        groups = directory.with_channel_names(conn, guild_id, channel_groups.list_all(conn, kind, guild_id))
        return [schemas.ChannelGroup.model_validate(g) for g in groups]

    @router.post(f"/{path}", response_model=schemas.ChannelGroup, status_code=201, summary=f"Create a {noun}",
                 name=f"create_{kind}")
    def create_group(guild_id: GuildId, s: AdminDep, conn: WriteConn,
                     body: schemas.ChannelGroupIn) -> schemas.ChannelGroup:
        guild_row(conn, guild_id)
        created = channel_groups.create(conn, kind, guild_id, body.model_dump(), actor=s.actor())
        return schemas.ChannelGroup.model_validate(directory.with_channel_names(conn, guild_id, [created])[0])

    @router.patch(f"/{path}/{{key}}", response_model=schemas.ChannelGroup, summary=f"Change a {noun}",
                  name=f"patch_{kind}")
    def patch_group(guild_id: GuildId, s: AdminDep, conn: WriteConn, key: Key,
                    body: schemas.ChannelGroupPatch) -> schemas.ChannelGroup:
        guild_row(conn, guild_id)
        changed = channel_groups.update(conn, kind, guild_id, key, body.model_dump(exclude_none=True),
                                        actor=s.actor())
        return schemas.ChannelGroup.model_validate(directory.with_channel_names(conn, guild_id, [changed])[0])

    @router.delete(f"/{path}/{{key}}", status_code=204, response_class=Response, summary=f"Delete a {noun}",
                   name=f"delete_{kind}")
    def delete_group(guild_id: GuildId, s: AdminDep, conn: WriteConn, key: Key) -> Response:
        guild_row(conn, guild_id)
        channel_groups.delete(conn, kind, guild_id, key, actor=s.actor())
        return Response(status_code=204)


_group_routes("regions", "regions", "region")
_group_routes("taxonomy", "taxonomy", "taxonomy tag")


# ---------------------------------------------------------------- milestones

@router.get("/milestones", response_model=list[schemas.MilestoneAdmin], dependencies=Milestones,
            summary="All milestones (hidden and disabled included) with earn counts")
def list_milestones(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> list[schemas.MilestoneAdmin]:
    return [schemas.MilestoneAdmin.model_validate(m) for m in milestones_admin.list_all(conn, guild_id)]


@router.post("/milestones", response_model=schemas.MilestoneAdmin, status_code=201, dependencies=Milestones,
             summary="Create a milestone (criteria and rewards as in the Rules Engine's milestone model)")
def create_milestone(guild_id: GuildId, s: AdminDep, conn: WriteConn,
                     body: Annotated[dict[str, Any], Body(description="MilestoneSpec: key, name, criteria, …")],
                     ) -> schemas.MilestoneAdmin:
    ref = milestone_service.create_milestone(conn, guild_id, body, actor=s.actor())  # bumps the rules version
    return schemas.MilestoneAdmin.model_validate(milestones_admin.get(conn, guild_id, ref.key))


@router.patch("/milestones/{key}", response_model=schemas.MilestoneAdmin, dependencies=Milestones,
              summary="Change a milestone (not its key); enable/disable with {\"enabled\": …}")
def patch_milestone(guild_id: GuildId, s: AdminDep, conn: WriteConn, key: Key,
                    changes: Annotated[dict[str, Any], Body()]) -> schemas.MilestoneAdmin:
    return schemas.MilestoneAdmin.model_validate(milestones_admin.update(conn, guild_id, key, changes,
                                                                         actor=s.actor()))


@router.delete("/milestones/{key}", status_code=204, response_class=Response, dependencies=Milestones,
               summary="Delete a milestone and its earn records")
def delete_milestone(guild_id: GuildId, s: AdminDep, conn: WriteConn, key: Key) -> Response:
    milestones_admin.delete(conn, guild_id, key, actor=s.actor())
    return Response(status_code=204)


@router.post("/milestones/{key}/grant", response_model=schemas.GrantOut, dependencies=Milestones,
             summary="Grant a milestone to a member by hand (a second grant changes nothing)")
def grant_milestone(guild_id: GuildId, s: AdminDep, conn: WriteConn, key: Key, body: schemas.GrantIn,
                    now: Now) -> schemas.GrantOut:
    user_id = parse_snowflake(body.user_id, "user_id")
    g = milestone_service.grant_milestone(conn, guild_id, user_id, key, actor=s.actor(), at=now)
    return schemas.GrantOut(milestone=g.milestone.key, user_id=str(g.user_id), already=g.already,
                            earned_at=g.earned_at)


@router.post("/milestones/{key}/retro/preview", response_model=schemas.RetroPreview, dependencies=Milestones,
             summary="Retroactive grant, step 1: who already qualifies from history (nothing written)")
def retro_preview(guild_id: GuildId, _: AdminDep, conn: ReadConn, key: Key, now: Now) -> schemas.RetroPreview:
    return schemas.RetroPreview.model_validate(milestone_service.retro_preview(conn, guild_id, key, at=now))


@router.post("/milestones/{key}/retro/apply", response_model=schemas.RetroApplied, dependencies=Milestones,
             summary="Retroactive grant, step 2: grant exactly the reviewed list (409 if it changed)")
def retro_apply(guild_id: GuildId, s: AdminDep, conn: WriteConn, key: Key, body: schemas.RetroApplyIn,
                now: Now) -> schemas.RetroApplied:
    return schemas.RetroApplied.model_validate(milestone_service.retro_apply(
        conn, guild_id, key, preview_token=body.preview_token, actor=s.actor(), at=now))
