"""Dashboard login: Discord OAuth2 authorization-code flow → a short-lived Synapse JWT.

``GET /api/auth/login`` redirects to Discord with a signed ``state`` (and the same nonce in an
HttpOnly cookie, so a callback cannot be replayed into another browser). ``GET /api/auth/callback``
exchanges the code, reads the user and their guilds, and redirects to the dashboard with the
token in the URL fragment (never sent to a server, never in logs):
``{SYNAPSE_DASHBOARD_ORIGIN}/auth/callback#token=…&expires_in=…``.

A user administers a guild when Discord says they own it or hold Administrator (0x8) or
Manage Guild (0x20) there, or when they hold one of the guild's configured admin roles
(``settings.admin_role_ids``, checked against the member cache). Only guilds Synapse knows count.
"""

from __future__ import annotations

import secrets
import urllib.parse
from datetime import timedelta
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse

from synapse.api import schemas
from synapse.api.deps import ALGORITHM, Now, ReadConn, SessionDep, issue_token, settings
from synapse.config import Settings
from synapse.db.reads import access
from synapse.db.uow import Conn
from synapse.errors import DiscordError, ErrorDetail, Unauthorized, ValidationFailed

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
STATE_AUDIENCE = "synapse-oauth-state"
STATE_COOKIE = "synapse_oauth_state"
STATE_TTL = timedelta(minutes=10)
AUTHORIZE_URL = "https://discord.com/oauth2/authorize"

Cfg = Annotated[Settings, Depends(settings)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": schemas.ErrorResponse}, 422: {"model": schemas.ErrorResponse},
    502: {"model": schemas.ErrorResponse, "description": "Discord refused the exchange"}}


def discord_client(cfg: Cfg) -> Any:
    from synapse.discord.rest import DiscordRest

    return DiscordRest.from_settings(cfg, max_retries=1, max_inline_wait=2.0)


def administered(conn: Conn, user_id: int, discord_guilds: list[dict[str, Any]]) -> list[int]:
    """Guilds (known to Synapse) the user may administer, from /users/@me/guilds and admin roles."""
    candidates: dict[int, bool] = {}
    for g in discord_guilds:
        try:
            gid = int(g["id"])
            perms = int(g.get("permissions") or 0)  # a string in API v8+
        except (KeyError, TypeError, ValueError):
            continue
        candidates[gid] = bool(g.get("owner")) or bool(perms & (ADMINISTRATOR | MANAGE_GUILD))
    if not candidates:
        return []
    return sorted(g.guild_id for g in access.guild_access(conn, user_id, candidates)
                  if candidates[g.guild_id] or g.admin_role_ids & g.member_roles)


def _guild_names(conn: Conn, ids: frozenset[int] | list[int]) -> list[schemas.AdminGuild]:
    return [schemas.AdminGuild(guild_id=str(gid), name=name) for gid, name in access.guild_names(conn, ids)]


def build_router(cfg: Settings) -> APIRouter:
    router = APIRouter(prefix="/api/auth", tags=["auth"])

    @router.get("/login", status_code=307, responses={307: {"description": "Redirect to Discord"}},
                summary="Start Discord login (redirects to Discord's consent page)")
    def login(request: Request, cfg: Cfg, now: Now) -> RedirectResponse:
        nonce = secrets.token_urlsafe(16)
        state = jwt.encode({"aud": STATE_AUDIENCE, "nonce": nonce,
                            "exp": int((now + STATE_TTL).timestamp())}, cfg.jwt_secret, algorithm=ALGORITHM)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": cfg.discord_client_id or cfg.discord_application_id,
            "scope": "identify guilds", "state": state, "prompt": "none",
            "redirect_uri": str(request.url_for("auth_callback"))})
        response = RedirectResponse(f"{AUTHORIZE_URL}?{query}", status_code=307)
        response.set_cookie(STATE_COOKIE, nonce, max_age=int(STATE_TTL.total_seconds()), httponly=True,
                            secure=request.url.scheme == "https", samesite="lax", path="/api/auth")
        return response

    @router.get("/callback", name="auth_callback", status_code=307, responses={
        307: {"description": "Redirect to the dashboard with #token=…"}, **ERRORS},
        summary="Discord redirects here; exchanges the code and hands the dashboard a session token")
    def callback(request: Request, cfg: Cfg, conn: ReadConn, now: Now,
                 client: Annotated[Any, Depends(discord_client)],
                 code: Annotated[str, Query(min_length=1, max_length=200)],
                 state: Annotated[str, Query(min_length=1, max_length=2000)]) -> RedirectResponse:
        try:
            claims = jwt.decode(state, cfg.jwt_secret, algorithms=[ALGORITHM], audience=STATE_AUDIENCE,
                                options={"verify_exp": False})
        except jwt.PyJWTError:
            raise Unauthorized("invalid login state", hint="start again from /api/auth/login") from None
        if int(claims.get("exp", 0)) <= now.timestamp():
            raise Unauthorized("login took too long", hint="start again from /api/auth/login")
        if not secrets.compare_digest(str(claims.get("nonce", "")), request.cookies.get(STATE_COOKIE, "")):
            raise Unauthorized("login state does not match this browser", hint="start again from /api/auth/login")
        try:
            grant = client.exchange_code(code, str(request.url_for("auth_callback")))
            user = client.get_current_user(grant["access_token"])
            guilds = client.get_current_user_guilds(grant["access_token"])
        except DiscordError as exc:
            if 400 <= exc.status < 500:
                raise Unauthorized(f"Discord refused the login: {exc.message}",
                                   hint="start again from /api/auth/login") from None
            raise
        user_id = int(user["id"])
        token = issue_token(cfg, user_id=user_id, username=user.get("global_name") or user.get("username", ""),
                            avatar=user.get("avatar"), guilds=administered(conn, user_id, guilds), issued_at=now)
        fragment = urllib.parse.urlencode({"token": token, "expires_in": cfg.jwt_ttl_seconds})
        response = RedirectResponse(f"{cfg.dashboard_origin.rstrip('/')}/auth/callback#{fragment}",
                                    status_code=307)
        response.delete_cookie(STATE_COOKIE, path="/api/auth")
        return response

    @router.get("/me", response_model=schemas.Me, responses=ERRORS, summary="Who the session token belongs to")
    def me(s: SessionDep, conn: ReadConn) -> schemas.Me:
        return schemas.Me(user_id=str(s.user_id), username=s.username, avatar=s.avatar,
                          guilds=_guild_names(conn, s.guilds), expires_at=s.expires_at)

    if cfg.test_login:
        @router.post("/test-login", response_model=schemas.TokenOut, responses=ERRORS,
                     summary="TEST ONLY (SYNAPSE_ENV=test, SYNAPSE_TEST_LOGIN): a session for any user")
        def test_login(body: schemas.TestLogin, cfg: Cfg, now: Now) -> schemas.TokenOut:
            ids = []
            for i, g in enumerate(body.guilds):
                if not g.isdigit() or len(g) > 19:
                    raise ValidationFailed("invalid guild id", [ErrorDetail(f"guilds[{i}]", "not a snowflake")])
                ids.append(int(g))
            token = issue_token(cfg, user_id=int(body.user_id), username=body.username, avatar=None,
                                guilds=ids, issued_at=now)
            return schemas.TokenOut(access_token=token, expires_in=cfg.jwt_ttl_seconds)

    return router
