"""Read-only endpoints for other bots, authenticated by a guild's API token (``Bearer syn_…``).

Levels, balances and milestones, as AmariBot's and Tatsu's APIs offer. Opted-out members
appear in leaderboards anonymised, as on the public pages; a token reads one guild only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from synapse.api import pagination, schemas
from synapse.api.deps import GuildId, Now, ReadConn, api_token, engine, parse_snowflake
from synapse.services import queries

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorResponse} for code in (401, 404, 422)}

router = APIRouter(prefix="/api/guilds/{guild_id}/integration", tags=["integration (API token)"],
                   responses=ERRORS)
TokenId = Annotated[int, Depends(api_token)]


def _touch(guild_id: int, token_id: int, now: Any) -> None:
    from synapse.db.uow import unit_of_work
    from synapse.services.integrations import touch_token

    with unit_of_work(engine()) as conn:
        touch_token(conn, guild_id, token_id, now)


@router.get("/members/{user_id}", response_model=schemas.MemberIntegration,
            summary="A member's balances, levels, ranks and milestones")
def member(guild_id: GuildId, token: TokenId, conn: ReadConn, now: Now,
           user_id: Annotated[str, Path(pattern=r"^[0-9]{1,19}$")]) -> schemas.MemberIntegration:
    uid = parse_snowflake(user_id, "user_id")
    p = queries.member_profile(conn, guild_id, uid, now=now)
    _touch(guild_id, token, now)
    return schemas.MemberIntegration(user_id=p["user_id"], balances=p["balances"], milestones=p["milestones"])


@router.get("/leaderboard/{currency}", response_model=schemas.Leaderboard, summary="A currency's leaderboard")
def leaderboard(guild_id: GuildId, token: TokenId, conn: ReadConn, now: Now,
                currency: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,31}$")],
                cursor: Annotated[str | None, Query(max_length=pagination.MAX_CURSOR_CHARS)] = None,
                limit: Annotated[int, Query(ge=1, le=100)] = 100) -> schemas.Leaderboard:
    after = pagination.decode(cursor, "lb", fields={"b": int, "u": int, "r": int})
    page = queries.leaderboard(conn, guild_id, currency, after=after, limit=limit)
    nxt = page.pop("next_after")
    _touch(guild_id, token, now)
    return schemas.Leaderboard.model_validate({**page, "next_cursor": pagination.encode("lb", **nxt) if nxt else None})


@router.get("/milestones", response_model=list[schemas.GalleryMilestone], summary="Milestones with earn counts")
def milestones(guild_id: GuildId, token: TokenId, conn: ReadConn, now: Now) -> list[schemas.GalleryMilestone]:
    out = [schemas.GalleryMilestone.model_validate(m) for m in queries.milestones_gallery(conn, guild_id)]
    _touch(guild_id, token, now)
    return out
