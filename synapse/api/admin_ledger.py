"""Admin ledger: manual awards and corrections, transactions, seasons, imports. Audited.

Balances move only through the ledger: an award is an ``admin_award`` transaction, a season
roll posts ``season_reset`` transactions, an import posts ``import`` transactions. The ledger
invariant (``wallet.balance == SUM(transactions)``) holds after each, checked by PostgreSQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from synapse.api import pagination, schemas
from synapse.api.deps import AdminDep, GuildId, Now, ReadConn, WriteConn, module, parse_snowflake, request_id
from synapse.db.reads import ledger as ledger_reads
from synapse.errors import ErrorDetail, ValidationFailed
from synapse.services import imports, seasons
from synapse.services.awards import award
from synapse.services.queries import guild_row, season

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (401, 403, 404, 409, 422)}

router = APIRouter(prefix="/api/guilds/{guild_id}/admin", tags=["admin: ledger"], responses=ERRORS)
Economy = [Depends(module("economy"))]
Seasons = [Depends(module("seasons"))]


@router.post("/awards", response_model=schemas.AwardOut, dependencies=Economy,
             summary="Award (or, with a negative amount, correct) a member's balance by hand")
def post_award(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.AwardIn, request: Request,
               now: Now) -> schemas.AwardOut:
    user_id = parse_snowflake(body.user_id, "user_id")
    if body.amount == 0:
        raise ValidationFailed("invalid award", [ErrorDetail("amount", "must not be zero")])
    rid = body.request_id or request_id(request)
    done = award(conn, guild_id, user_id=user_id, currency=body.currency, amount=body.amount, reason=body.reason,
                 actor=s.actor(), request_id=f"dashboard:{guild_id}:{rid}", at=now)
    return schemas.AwardOut(user_id=str(done.user_id), currency=done.currency, amount=done.amount,
                            balance_after=done.balance_after, transaction_id=done.transaction_id,
                            repeated=done.repeated)


@router.get("/transactions", response_model=schemas.Page[schemas.TransactionOut], dependencies=Economy,
            summary="Transactions, newest first; filter by member, currency, kind")
def transactions(guild_id: GuildId, _: AdminDep, conn: ReadConn,
                 user_id: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$")] = None,
                 currency: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None,
                 kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,20}$")] = None,
                 cursor: Annotated[str | None, Query(max_length=pagination.MAX_CURSOR_CHARS)] = None,
                 limit: Annotated[int, Query(ge=1, le=100)] = 50) -> schemas.Page[schemas.TransactionOut]:
    after = pagination.decode(cursor, "tx", fields={"id": int})
    uid = parse_snowflake(user_id, "user_id") if user_id else None
    rows, more = ledger_reads.transactions(conn, guild_id, user_id=uid, currency=currency, kind=kind,
                                           before_id=after["id"] if after else None, limit=limit)
    items = [schemas.TransactionOut(
        id=r.id, user_id=str(r.user_id), currency=r.currency, amount=r.amount, balance_after=r.balance_after,
        kind=r.kind, reason=r.reason, rule_id=r.rule_id, actor_id=None if r.actor_id is None else str(r.actor_id),
        season_id=r.season_id, occurred_at=r.occurred_at, rule_version=r.rule_version, event_id=r.event_id,
        event_type=r.event_type) for r in rows]
    nxt = pagination.encode("tx", id=items[-1].id) if more and items else None
    return schemas.Page[schemas.TransactionOut](items=items, next_cursor=nxt)


# ---------------------------------------------------------------- seasons

@router.post("/seasons", response_model=schemas.SeasonInfo, status_code=201, dependencies=Seasons,
             summary="Start a season (when none is active)")
def start_season(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.SeasonStartIn,
                 now: Now) -> schemas.SeasonInfo:
    guild_row(conn, guild_id)
    season_id = seasons.start(conn, guild_id, name=body.name, actor=s.actor(), at=now,
                              scheduled_end_at=body.scheduled_end_at)
    r = season(conn, guild_id, season_id)
    return schemas.SeasonInfo(season_id=r.season_id, name=r.name, status=r.status, started_at=r.started_at,
                              ended_at=r.ended_at, scheduled_end_at=r.scheduled_end_at)


@router.post("/seasons/roll", response_model=schemas.SeasonRollOut, dependencies=Seasons,
             summary="Roll the season: snapshot balances and ranks, reset seasonal currencies "
                     "(season_reset transactions), close it, open the next")
def roll_season(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.SeasonRollIn,
                now: Now) -> schemas.SeasonRollOut:
    guild_row(conn, guild_id)
    report = seasons.roll(conn, guild_id, expected_season_id=body.expected_season_id, next_name=body.next_name,
                          actor=s.actor(), at=now, next_scheduled_end_at=body.next_scheduled_end_at)
    return schemas.SeasonRollOut(closed_season_id=report.closed_season_id, opened_season_id=report.opened_season_id,
                                 snapshot_rows=report.snapshot_rows, reset_wallets=report.reset_wallets,
                                 reset_total=report.reset_total)


# ---------------------------------------------------------------- imports

@router.post("/imports/preview", response_model=schemas.ImportPreview, dependencies=Economy,
             summary="Preview an import of opening balances (MEE6 leaderboard JSON or user_id,xp CSV)")
def preview_import(guild_id: GuildId, _: AdminDep, conn: ReadConn, body: schemas.ImportIn) -> schemas.ImportPreview:
    parsed = imports.parse(body.content, body.format)
    return schemas.ImportPreview.model_validate(imports.preview(conn, guild_id, parsed, body.currency))


@router.post("/imports", response_model=schemas.ImportResult, dependencies=Economy,
             summary="Apply an import as `import` transactions (the same file twice is a no-op)")
def apply_import(guild_id: GuildId, s: AdminDep, conn: WriteConn, body: schemas.ImportIn,
                 now: Now) -> schemas.ImportResult:
    parsed = imports.parse(body.content, body.format)
    return schemas.ImportResult.model_validate(imports.apply(conn, guild_id, parsed, body.currency, actor=s.actor(),
                                                             at=now, filename=body.filename))


@router.get("/imports", response_model=list[schemas.ImportBatch], dependencies=Economy, summary="Past imports")
def list_imports(guild_id: GuildId, _: AdminDep, conn: ReadConn) -> list[schemas.ImportBatch]:
    return [schemas.ImportBatch.model_validate(b) for b in imports.list_batches(conn, guild_id)]
