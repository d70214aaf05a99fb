"""Admin operations: the audit log, member data export and erasure, API tokens, webhooks. Audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from synapse.api import pagination, schemas
from synapse.api.deps import AdminDep, GuildId, Now, ReadConn, WriteConn, parse_snowflake
from synapse.errors import ErrorDetail, NotFound, ValidationFailed
from synapse.services import audit_queries, integrations
from synapse.services.queries import guild_row

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (401, 403, 404, 409, 422)}

router = APIRouter(prefix="/api/guilds/{guild_id}/admin", tags=["admin: operations"], responses=ERRORS)
UserId = Annotated[str, Path(pattern=r"^[0-9]{1,19}$")]
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/audit", response_model=schemas.Page[schemas.AuditEntry],
            summary="The audit log, newest first; filter by actor, entity, action, time")
def audit(guild_id: GuildId, _: AdminDep, conn: ReadConn,
          actor_id: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
          entity_type: Annotated[str | None, Query(max_length=40)] = None,
          entity_id: Annotated[str | None, Query(max_length=100)] = None,
          action: Annotated[str | None, Query(max_length=60)] = None,
          since: datetime | None = None, until: datetime | None = None,
          cursor: Annotated[str | None, Query(max_length=pagination.MAX_CURSOR_CHARS)] = None,
          limit: Annotated[int, Query(ge=1, le=100)] = 50) -> schemas.Page[schemas.AuditEntry]:
    guild_row(conn, guild_id)
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise ValidationFailed("invalid time", [ErrorDetail(name, "needs a time zone (…Z)")])
    after = pagination.decode(cursor, "audit", fields={"id": int})
    page = audit_queries.audit_log(conn, guild_id, actor_id=parse_snowflake(actor_id, "actor_id") if actor_id else None,
                                   entity_type=entity_type, entity_id=entity_id, action=action, since=since,
                                   until=until, before_id=after["id"] if after else None, limit=limit)
    nxt = page["next_before"]
    return schemas.Page[schemas.AuditEntry](items=[schemas.AuditEntry.model_validate(i) for i in page["items"]],
                                            next_cursor=pagination.encode("audit", id=nxt) if nxt else None)


# ---------------------------------------------------------------- member data

@router.get("/members/{user_id}/export", response_model=dict[str, Any],
            summary="Everything Synapse holds about a member, as JSON (audited)")
def export_member(guild_id: GuildId, s: AdminDep, conn: WriteConn, user_id: UserId) -> dict[str, Any]:
    from synapse.admin.audit import record
    from synapse.services import privacy

    uid = parse_snowflake(user_id, "user_id")
    guild_row(conn, guild_id)
    if not privacy.has_data(conn, guild_id, uid):
        raise NotFound(f"no data about member {uid} in this server")
    data = privacy.export_member(conn, guild_id, uid)
    record(conn, guild_id=guild_id, actor=s.actor(), action="member.export", entity_type="member", entity_id=uid)
    return data


@router.post("/members/{user_id}/erase", response_model=schemas.ErasureOut,
             summary="Erase a member's events and personal data; their transactions and wallets go together, "
                     "so the ledger stays consistent")
def erase_member(guild_id: GuildId, s: AdminDep, conn: WriteConn, user_id: UserId,
                 body: schemas.ErasureIn) -> schemas.ErasureOut:
    from synapse.services import privacy

    uid = parse_snowflake(user_id, "user_id")
    if body.confirm_user_id != user_id:
        raise ValidationFailed("confirmation does not match", [ErrorDetail("confirm_user_id",
                                                                           "repeat the member id")])
    guild_row(conn, guild_id)
    if not privacy.has_data(conn, guild_id, uid):
        raise NotFound(f"no data about member {uid} in this server")
    report = privacy.erase_member(conn, guild_id, uid, actor=s.actor())
    return schemas.ErasureOut(user_id=str(uid), deleted=report.deleted)


# ---------------------------------------------------------------- integrations

@router.get("/api-tokens", response_model=list[schemas.ApiTokenOut], summary="Read-only API tokens")
def list_tokens(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> list[schemas.ApiTokenOut]:
    return [schemas.ApiTokenOut.model_validate(t) for t in integrations.list_tokens(conn, guild_id)]


@router.post("/api-tokens", response_model=schemas.ApiTokenCreated, status_code=201,
             summary="Create a read-only API token (shown once)")
def create_token(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.ApiTokenIn) -> schemas.ApiTokenCreated:
    guild_row(conn, guild_id)
    row, token = integrations.create_token(conn, guild_id, name=body.name, actor=s.actor())
    return schemas.ApiTokenCreated(**row, token=token)


@router.delete("/api-tokens/{token_id}", status_code=204, response_class=Response, summary="Revoke a token")
def revoke_token(guild_id: GuildId, s: AdminDep, conn: WriteConn, token_id: Id, now: Now) -> Response:
    integrations.revoke_token(conn, guild_id, token_id, actor=s.actor(), at=now)
    return Response(status_code=204)


@router.get("/webhooks", response_model=list[schemas.WebhookOut], summary="Outbound webhooks")
def list_webhooks(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> list[schemas.WebhookOut]:
    return [schemas.WebhookOut.model_validate(w) for w in integrations.list_webhooks(conn, guild_id)]


@router.post("/webhooks", response_model=schemas.WebhookCreated, status_code=201,
             summary="Subscribe a URL to level_up / milestone_earned / season.closed (secret shown once)")
def create_webhook(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.WebhookIn) -> schemas.WebhookCreated:
    guild_row(conn, guild_id)
    row, secret = integrations.create_webhook(conn, guild_id, url=body.url, events=list(body.events),
                                              actor=s.actor())
    return schemas.WebhookCreated(**row, secret=secret)


@router.delete("/webhooks/{webhook_id}", status_code=204, response_class=Response, summary="Delete a webhook")
def delete_webhook(guild_id: GuildId, s: AdminDep, conn: WriteConn, webhook_id: Id) -> Response:
    integrations.delete_webhook(conn, guild_id, webhook_id, actor=s.actor())
    return Response(status_code=204)
