"""Admin member management: find a member, read their ledger with provenance, set balance / level, reset.

Every change is a ``correction`` transaction with the admin's reason and an ``admin_log`` row, in
one transaction, idempotent on the request id (body ``request_id``, else ``X-Request-Id``); see
``synapse/services/member_admin.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from synapse.api import pagination, schemas
from synapse.api.deps import AdminDep, GuildId, Now, ReadConn, WriteConn, module, parse_snowflake, request_id
from synapse.db import member_ledger
from synapse.services import member_admin
from synapse.services.member_admin import Adjustment

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (401, 403, 404, 409, 422)}

router = APIRouter(prefix="/api/guilds/{guild_id}/admin/members", tags=["admin: members"], responses=ERRORS,
                   dependencies=[Depends(module("economy"))])
UserId = Annotated[str, Path(pattern=r"^[0-9]{1,19}$", description="Discord user id (snowflake)")]


@router.get("", response_model=list[schemas.MemberHit],
            summary="Find members by id or name (no query: the most recently active)")
def search(guild_id: GuildId, _: AdminDep, conn: ReadConn,
           q: Annotated[str | None, Query(max_length=member_ledger.MAX_QUERY)] = None,
           limit: Annotated[int, Query(ge=1, le=50)] = 20) -> list[schemas.MemberHit]:
    return [schemas.MemberHit(user_id=str(h["user_id"]), display_name=h["display_name"], avatar=h["avatar"],
                              left_at=h["left_at"], last_seen_at=h["last_seen_at"], balances=h["balances"])
            for h in member_ledger.search(conn, guild_id, q, limit=limit)]


@router.get("/{user_id}", response_model=schemas.MemberAdmin,
            summary="A member: display data and a wallet per currency (balance, level)")
def member(guild_id: GuildId, _: AdminDep, conn: ReadConn, user_id: UserId) -> schemas.MemberAdmin:
    uid = parse_snowflake(user_id, "user_id")
    row = member_ledger.member(conn, guild_id, uid) or {}
    wallets = member_admin.wallets(conn, guild_id, uid)
    known = bool(row) or any(w["balance"] for w in wallets) or member_ledger.has_transactions(conn, guild_id, uid)
    return schemas.MemberAdmin(user_id=str(uid), known=known, display_name=row.get("display_name"),
                               avatar=row.get("avatar"), joined_at=row.get("joined_at"), left_at=row.get("left_at"),
                               last_seen_at=row.get("last_seen_at"),
                               wallets=[schemas.MemberWallet.model_validate(w) for w in wallets])


@router.get("/{user_id}/transactions", response_model=schemas.Page[schemas.LedgerLine],
            summary="A member's ledger, newest posting first, with each line's provenance")
def ledger(guild_id: GuildId, _: AdminDep, conn: ReadConn, user_id: UserId,
           currency: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None,
           cursor: Annotated[str | None, Query(max_length=pagination.MAX_CURSOR_CHARS)] = None,
           limit: Annotated[int, Query(ge=1, le=100)] = 50) -> schemas.Page[schemas.LedgerLine]:
    uid = parse_snowflake(user_id, "user_id")
    after = pagination.decode(cursor, "ledger", fields={"id": int})
    rows = member_ledger.ledger(conn, guild_id, uid, currency=currency, before_id=after["id"] if after else None,
                                limit=limit + 1)
    items = [schemas.LedgerLine(
        id=r["id"], currency=r["currency_key"], amount=r["amount"], balance_after=r["balance_after"], kind=r["kind"],
        reason=r["reason"], occurred_at=r["occurred_at"], rule_id=r["rule_id"], rule_version=r["rule_version"],
        rule_name=r["rule_name"], event_id=r["event_id"], event_type=r["event_type"],
        actor_id=None if r["actor_id"] is None else str(r["actor_id"]), actor_name=r["actor_name"],
        season_id=r["season_id"], import_source=r["import_source"], clawback_of=r["clawback_of"])
        for r in rows[:limit]]
    nxt = pagination.encode("ledger", id=items[-1].id) if len(rows) > limit and items else None
    return schemas.Page[schemas.LedgerLine](items=items, next_cursor=nxt)


def _out(done: Adjustment) -> schemas.AdjustmentOut:
    return schemas.AdjustmentOut.model_validate({
        "user_id": str(done.user_id), "action": done.action, "reason": done.reason, "audit_id": done.audit_id,
        "repeated": done.repeated,
        "changes": [{"currency": c.currency, "before": c.before, "after": c.after, "amount": c.amount,
                     "transaction_id": c.transaction_id} for c in done.changes]})


def _key(request: Request, body_request_id: str | None) -> str:
    return f"dashboard:{body_request_id or request_id(request)}"


@router.post("/{user_id}/balance", response_model=schemas.AdjustmentOut,
             summary="Set a member's balance (one correction transaction of the difference; audited)")
def set_balance(guild_id: GuildId, s: AdminDep, conn: WriteConn, user_id: UserId, body: schemas.SetBalanceIn,
                request: Request, now: Now) -> schemas.AdjustmentOut:
    return _out(member_admin.set_balance(
        conn, guild_id, user_id=parse_snowflake(user_id, "user_id"), currency=body.currency, balance=body.balance,
        reason=body.reason, actor=s.actor(), request_key=_key(request, body.request_id), at=now))


@router.post("/{user_id}/level", response_model=schemas.AdjustmentOut,
             summary="Set a member's level in a levelled currency (the balance becomes that level's threshold)")
def set_level(guild_id: GuildId, s: AdminDep, conn: WriteConn, user_id: UserId, body: schemas.SetLevelIn,
              request: Request, now: Now) -> schemas.AdjustmentOut:
    return _out(member_admin.set_level(
        conn, guild_id, user_id=parse_snowflake(user_id, "user_id"), currency=body.currency, level=body.level,
        reason=body.reason, actor=s.actor(), request_key=_key(request, body.request_id), at=now))


@router.post("/{user_id}/reset", response_model=schemas.AdjustmentOut,
             summary="Reset a member's balances to 0 in one currency, or all (correction transactions; audited)")
def reset(guild_id: GuildId, s: AdminDep, conn: WriteConn, user_id: UserId, body: schemas.ResetIn,
          request: Request, now: Now) -> schemas.AdjustmentOut:
    return _out(member_admin.reset(
        conn, guild_id, user_id=parse_snowflake(user_id, "user_id"), currency=body.currency, reason=body.reason,
        actor=s.actor(), request_key=_key(request, body.request_id), at=now))
