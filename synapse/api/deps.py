"""What every router shares: the database, guild scoping, sessions (JWT), admin checks, API tokens.

Sessions are HS256 JWTs (PyJWT) with ``iss``, ``aud``, ``exp``, ``iat``; the ``guilds``
claim lists the guilds the user administers, decided at login. Every admin request
checks the token (signature, expiry, audience, issuer) and that the path's guild is
in it: an admin of one guild can touch nothing of another.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from synapse.admin.audit import Actor
from synapse.config import Settings
from synapse.db.uow import Conn, DbEngine
from synapse.errors import ErrorDetail, Forbidden, NotFound, Unauthorized, ValidationFailed

ISSUER = "synapse"
AUDIENCE = "synapse-dashboard"
ALGORITHM = "HS256"
API_TOKEN_PREFIX = "syn_"

bearer = HTTPBearer(auto_error=False, description="A dashboard session (JWT) or, on /integration "
                                                  "endpoints, a read-only API token (syn_…)")


def settings() -> Settings:
    from synapse.bootstrap import container

    return container().settings


def engine() -> DbEngine:
    from synapse.bootstrap import container

    return container().engine


def now() -> datetime:
    from synapse.bootstrap import container

    return container().clock.now()


def read_conn(eng: Annotated[DbEngine, Depends(engine)]) -> Iterator[Conn]:
    """A connection for reads (no transaction left open after the request)."""
    from synapse.db.uow import reads

    with reads(eng) as conn:
        yield conn


def write_conn(eng: Annotated[DbEngine, Depends(engine)]) -> Iterator[Conn]:
    """One unit of work: commit if the handler returns, roll back if it raises."""
    from synapse.db.engine import transaction

    with transaction(eng) as conn:
        yield conn


def guild_id_param(
        guild_id: Annotated[str, Path(pattern=r"^[0-9]{1,19}$", description="Discord guild id (snowflake)")],
) -> int:
    value = int(guild_id)
    if value >= 2**63 or value == 0:
        raise ValidationFailed("invalid guild id", [ErrorDetail("guild_id", "not a Discord snowflake")])
    return value


GuildId = Annotated[int, Depends(guild_id_param)]
# scope="function": the transaction commits (or fails, with its error) before the response is sent.
ReadConn = Annotated[Conn, Depends(read_conn, scope="function")]
WriteConn = Annotated[Conn, Depends(write_conn, scope="function")]
Now = Annotated[datetime, Depends(now)]


def parse_snowflake(value: str, field: str) -> int:
    if not value.isdigit() or len(value) > 19 or int(value) >= 2**63 or int(value) == 0:
        raise ValidationFailed("invalid id", [ErrorDetail(field, "not a Discord snowflake")])
    return int(value)


# ---------------------------------------------------------------- sessions

@dataclass(frozen=True)
class Session:
    user_id: int
    username: str
    avatar: str | None
    guilds: frozenset[int]
    expires_at: datetime
    request_id: str

    def actor(self) -> Actor:
        return Actor.user(self.user_id, self.request_id)


def issue_token(cfg: Settings, *, user_id: int, username: str, avatar: str | None, guilds: list[int],
                issued_at: datetime) -> str:
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": str(user_id), "name": username, "avatar": avatar,
        "guilds": [str(g) for g in sorted(set(guilds))], "iat": int(issued_at.timestamp()),
        "exp": int((issued_at + timedelta(seconds=cfg.jwt_ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, cfg.jwt_secret, algorithm=ALGORITHM)


def decode_token(cfg: Settings, token: str, *, at: datetime) -> Session:
    try:
        # The injected clock decides expiry (tests move it; production reads the wall clock).
        claims = jwt.decode(token, cfg.jwt_secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": False})
    except jwt.InvalidAudienceError:
        raise Unauthorized("session token is for another audience", hint="log in again") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized("session token from another issuer", hint="log in again") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid session token: {exc}", hint="log in again") from None
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= at.timestamp():
        raise Unauthorized("session expired", hint="log in again")
    try:
        guilds = frozenset(int(g) for g in claims.get("guilds", []))
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        raise Unauthorized("invalid session token: bad claims") from None
    return Session(user_id=user_id, username=str(claims.get("name", "")), avatar=claims.get("avatar"),
                   guilds=guilds, expires_at=datetime.fromtimestamp(exp, tz=at.tzinfo),
                   request_id=uuid.uuid4().hex)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def session(creds: Credentials, cfg: Annotated[Settings, Depends(settings)], at: Now) -> Session:
    if creds is None or not creds.credentials:
        raise Unauthorized("log in first: this needs a dashboard session",
                           hint="send Authorization: Bearer <token> from /api/auth/callback")
    if creds.credentials.startswith(API_TOKEN_PREFIX):
        raise Forbidden("API tokens are read-only and cannot use this endpoint")
    return decode_token(cfg, creds.credentials, at=at)


def optional_session(creds: Credentials, cfg: Annotated[Settings, Depends(settings)], at: Now) -> Session | None:
    if creds is None or not creds.credentials or creds.credentials.startswith(API_TOKEN_PREFIX):
        return None
    try:
        return decode_token(cfg, creds.credentials, at=at)
    except Unauthorized:
        return None


SessionDep = Annotated[Session, Depends(session)]


def admin(guild_id: GuildId, s: SessionDep) -> Session:
    """The session, if its user administers the guild in the path; 403 otherwise."""
    if guild_id not in s.guilds:
        raise Forbidden("you are not an admin of this server")
    return s


AdminDep = Annotated[Session, Depends(admin)]


# ---------------------------------------------------------------- modules and visibility

def module(name: str) -> Callable[..., None]:
    """A dependency that answers 404 when the guild has the module turned off."""

    def check(guild_id: GuildId, conn: ReadConn) -> None:
        from synapse.admin.modules import require_enabled
        from synapse.services.queries import guild_row

        guild_row(conn, guild_id)
        require_enabled(conn, guild_id, name)

    check.__name__ = f"module_{name}"
    return check


def visible(setting: str) -> Callable[..., None]:
    """Public pages an admin can make private: then only admins of the guild (or API tokens) see them."""

    def check(guild_id: GuildId, conn: ReadConn, s: Annotated[Session | None, Depends(optional_session)],
              creds: Credentials) -> None:
        from synapse.admin.settings import load
        from synapse.services.queries import guild_row

        guild_row(conn, guild_id)
        if getattr(load(conn, guild_id), setting):
            return
        if s is not None and guild_id in s.guilds:
            return
        if creds is not None and creds.credentials.startswith(API_TOKEN_PREFIX):
            token_guild(conn, creds.credentials, guild_id)
            return
        raise Forbidden("this server keeps this page private", hint="log in as an admin of the server")

    check.__name__ = f"visible_{setting}"
    return check


# ---------------------------------------------------------------- API tokens

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_guild(conn: Conn, token: str, guild_id: int) -> int:
    from synapse.db.reads.access import live_token_id

    token_id = live_token_id(conn, guild_id, hash_token(token))
    if token_id is None:
        raise Unauthorized("unknown or revoked API token for this server")
    return token_id


def api_token(guild_id: GuildId, creds: Credentials, conn: ReadConn) -> int:
    """The id of a valid read-only API token of this guild (integration endpoints)."""
    if creds is None or not creds.credentials.startswith(API_TOKEN_PREFIX):
        raise Unauthorized("send Authorization: Bearer syn_… (an API token of this server)")
    from synapse.services.queries import guild_row

    try:
        guild_row(conn, guild_id)
    except NotFound:
        raise Unauthorized("unknown or revoked API token for this server") from None
    return token_guild(conn, creds.credentials, guild_id)


def request_id(request: Request) -> str:
    return request.headers.get("x-request-id", "")[:100] or uuid.uuid4().hex
