"""Our own small Discord REST client (sync, on httpx), with Discord's rate limits built in.

Usage::

    from synapse.discord.rest import DiscordRest

    rest = DiscordRest.from_settings(settings)            # base URL, bot token, app id from Settings
    msg = rest.create_message("123", embeds=[...], content="<@42>", nonce="syn0a1b…",
                              allowed_mentions={"parse": [], "users": ["42"]})
    rest.add_role(guild_id, user_id, role_id, reason="level 5")
    rest.edit_original_interaction_response(token, {"content": "done"})   # no bot auth needed
    rest.create_followup(token, {"content": "…", "flags": 64})
    rest.edit_original_interaction_response(token, {"content": "your export"},
                                            files=[Upload("export.json", data, "application/json")])
    tokens = rest.exchange_code(code, redirect_uri)                        # OAuth2 (client id/secret)
    me = rest.get_current_user(tokens["access_token"])
    rest.close()   # or: with DiscordRest(...) as rest: …

Tests point it at ``tests.support.fake_discord`` (``base_url=fake.base_url``) and inject
``sleep``/``monotonic`` so no test waits for real time.

Behaviour (Discord "Rate Limits" docs):

- **Per-route buckets** learned from ``X-RateLimit-Bucket``/``-Remaining``/``-Reset-After``,
  keyed by the bucket hash plus the route's top-level resource (channel, guild, webhook), so
  ``/channels/1`` and ``/channels/2`` are limited independently. When a bucket is empty the
  client waits for its reset before sending.
- **429**: the body's ``retry_after`` (or ``Retry-After``) is honoured; ``global: true`` /
  ``X-RateLimit-Global`` blocks every bot request until it passes.
- **Global limit**: at most ``global_per_second`` (50) bot-authenticated requests per second,
  counted client-side. Interaction webhooks and OAuth2 bearer calls are not bound to it.
- **Waits**: a wait of at most ``max_inline_wait`` seconds is slept through (the injected
  ``sleep``); a longer one raises :class:`RateLimited` (``retry_after``, ``bucket``, ``is_global``)
  so a queue worker can reschedule instead of holding a Function instance.
- **5xx and transport errors** are retried ``max_retries`` times with exponential backoff
  (``backoff_base`` · 2ⁿ, capped at ``backoff_max``), then raise :class:`DiscordError`
  (``status`` 5xx, or 0 when Discord was never reached). Non-idempotent calls without a nonce
  (``create_followup``) are retried only when the request never left (connect errors).
- **4xx** raise :class:`DiscordError` at once with Discord's JSON error ``code`` as
  ``discord_code`` (50001 Missing Access, 50013 Missing Permissions, 10003 Unknown Channel, …).
  Never retried.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx

from synapse.errors import DiscordError, RateLimited

if TYPE_CHECKING:
    from synapse.config import Settings

log = logging.getLogger(__name__)

JSON = Any
Auth = Literal["bot", "bearer", "none", "basic"]

USER_AGENT = "DiscordBot (https://github.com/synapse-community/synapse, 0.1)"
# Path parameters that make a route's limit independent ("top-level resources").
MAJOR_PARAMS = ("channel_id", "guild_id", "webhook_id", "webhook_token")
RETRYABLE_STATUS = frozenset({500, 502, 503, 504, 520, 521, 522, 524})


@dataclass
class _Bucket:
    remaining: int = 1
    limit: int = 1
    reset_at: float = 0.0  # monotonic seconds


@dataclass(frozen=True)
class Upload:
    """A file sent with a message: ``Upload("export.json", data, "application/json")``."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    description: str | None = None


def _with_attachments(body: Mapping[str, Any], files: Sequence[Upload] | None) -> dict[str, Any]:
    out = dict(body)
    if files and "attachments" not in out:
        # ids are snowflake strings in Discord's OpenAPI spec ("0" matches the part files[0])
        out["attachments"] = [{"id": str(i), "filename": f.filename, **({"description": f.description}
                                                                         if f.description else {})}
                              for i, f in enumerate(files)]
    return out


def _dumps(value: Any) -> str:
    import json as jsonlib

    return jsonlib.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class Route:
    """A request template: ``Route("POST", "/channels/{channel_id}/messages", channel_id="1")``."""

    method: str
    template: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, method: str, template: str, **params: object) -> Route:
        return cls(method, template, tuple((k, str(v)) for k, v in params.items()))

    @property
    def path(self) -> str:
        values = {k: quote(v, safe="@") for k, v in self.params}
        return self.template.format(**values)

    @property
    def key(self) -> str:
        """Method and template, e.g. ``POST /channels/{channel_id}/messages``."""
        return f"{self.method} {self.template}"

    @property
    def major(self) -> str:
        values = dict(self.params)
        return ":".join(values[p] for p in MAJOR_PARAMS if p in values)


class DiscordRest:
    """A synchronous Discord REST client. Thread-safe; share one per process."""

    def __init__(
        self,
        *,
        base_url: str = "https://discord.com/api/v10",
        bot_token: str = "",
        application_id: str = "",
        client_id: str = "",
        client_secret: str = "",
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        max_inline_wait: float = 5.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        global_per_second: int = 50,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.bot_token = bot_token
        self.application_id = application_id
        self.client_id = client_id or application_id
        self.client_secret = client_secret
        self._sleep = sleep
        self._now = monotonic
        self.max_inline_wait = max_inline_wait
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.global_per_second = global_per_second
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport,
                                  headers={"User-Agent": USER_AGENT})
        self._lock = threading.Lock()
        self._bucket_of_route: dict[str, str] = {}       # route key -> X-RateLimit-Bucket hash
        self._buckets: dict[tuple[str, str], _Bucket] = {}  # (bucket hash or route key, major) -> state
        self._global_until = 0.0
        self._recent: deque[float] = deque()              # send times of bot requests, last second

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> DiscordRest:
        return cls(base_url=settings.discord_api_base, bot_token=settings.discord_bot_token,
                   application_id=settings.discord_application_id,
                   client_id=settings.discord_client_id or settings.discord_application_id,
                   client_secret=settings.discord_client_secret, **options)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DiscordRest:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- messages, roles, DMs -----------------------------------------------------------------

    def create_message(
        self,
        channel_id: int | str,
        *,
        embeds: Sequence[Mapping[str, Any]] | None = None,
        content: str | None = None,
        nonce: str | None = None,
        enforce_nonce: bool = True,
        allowed_mentions: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST /channels/{channel_id}/messages. With a nonce and ``enforce_nonce``, a retry within
        Discord's dedupe window returns the message already created instead of posting again."""
        if nonce is not None and len(nonce) > 25:
            raise ValueError("Discord nonces are at most 25 characters")
        body: dict[str, Any] = {"allowed_mentions": dict(allowed_mentions) if allowed_mentions is not None
                                else {"parse": []}}
        if content:
            body["content"] = content
        if embeds:
            body["embeds"] = [dict(e) for e in embeds]
        if nonce is not None:
            body["nonce"] = nonce
            body["enforce_nonce"] = enforce_nonce
        result: dict[str, Any] = self.request(
            Route.of("POST", "/channels/{channel_id}/messages", channel_id=channel_id), json=body)
        return result

    def add_role(self, guild_id: int | str, user_id: int | str, role_id: int | str, *,
                 reason: str | None = None) -> None:
        """PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id} (idempotent on Discord's side)."""
        self.request(Route.of("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
                              guild_id=guild_id, user_id=user_id, role_id=role_id), reason=reason)

    def remove_role(self, guild_id: int | str, user_id: int | str, role_id: int | str, *,
                    reason: str | None = None) -> None:
        """DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}."""
        self.request(Route.of("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
                              guild_id=guild_id, user_id=user_id, role_id=role_id), reason=reason)

    def create_dm(self, user_id: int | str) -> dict[str, Any]:
        """POST /users/@me/channels: the DM channel with a user (the same one on every call)."""
        result: dict[str, Any] = self.request(Route.of("POST", "/users/@me/channels"),
                                              json={"recipient_id": str(user_id)})
        return result

    # -- static guild data (fetched on demand, cached by the caller) -----------------------------

    def get_guild_channels(self, guild_id: int | str) -> list[dict[str, Any]]:
        """GET /guilds/{guild_id}/channels."""
        result: list[dict[str, Any]] = self.request(Route.of("GET", "/guilds/{guild_id}/channels",
                                                             guild_id=guild_id))
        return result

    def get_guild_roles(self, guild_id: int | str) -> list[dict[str, Any]]:
        """GET /guilds/{guild_id}/roles."""
        result: list[dict[str, Any]] = self.request(Route.of("GET", "/guilds/{guild_id}/roles",
                                                             guild_id=guild_id))
        return result

    def get_guild(self, guild_id: int | str) -> dict[str, Any]:
        """GET /guilds/{guild_id}: name, ``afk_channel_id``, ``afk_timeout``, ``owner_id``, …"""
        result: dict[str, Any] = self.request(Route.of("GET", "/guilds/{guild_id}", guild_id=guild_id))
        return result

    def get_bot_user(self) -> dict[str, Any]:
        """GET /users/@me with the bot token: the bot's own user (its id is the member id in guilds)."""
        result: dict[str, Any] = self.request(Route.of("GET", "/users/@me"))
        return result

    def get_guild_member(self, guild_id: int | str, user_id: int | str) -> dict[str, Any]:
        """GET /guilds/{guild_id}/members/{user_id} (404 10007 Unknown Member when gone)."""
        result: dict[str, Any] = self.request(Route.of("GET", "/guilds/{guild_id}/members/{user_id}",
                                                       guild_id=guild_id, user_id=user_id))
        return result

    # -- interactions (webhook routes: interaction token auth, not the bot token) ---------

    def edit_original_interaction_response(self, token: str, body: Mapping[str, Any], *,
                                           application_id: str | None = None,
                                           files: Sequence[Upload] | None = None) -> dict[str, Any]:
        """PATCH /webhooks/{application_id}/{token}/messages/@original (idempotent). ``files`` are
        uploaded as multipart (``attachments`` is filled in when the body has none)."""
        result: dict[str, Any] = self.request(
            Route.of("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
                     webhook_id=application_id or self._app_id(), webhook_token=token),
            json=_with_attachments(body, files), auth="none", files=files)
        return result

    def create_followup(self, token: str, body: Mapping[str, Any], *,
                        application_id: str | None = None,
                        files: Sequence[Upload] | None = None) -> dict[str, Any]:
        """POST /webhooks/{application_id}/{token}?wait=true: a follow-up message (not idempotent,
        so it is only retried when the request never reached Discord)."""
        result: dict[str, Any] = self.request(
            Route.of("POST", "/webhooks/{webhook_id}/{webhook_token}",
                     webhook_id=application_id or self._app_id(), webhook_token=token),
            json=_with_attachments(body, files), auth="none", params={"wait": "true"}, idempotent=False,
            files=files)
        return result

    def bulk_overwrite_commands(self, commands: Sequence[Mapping[str, Any]], *,
                                guild_id: int | str | None = None) -> list[dict[str, Any]]:
        """PUT /applications/{app}/commands, or /applications/{app}/guilds/{guild_id}/commands."""
        if guild_id is None:
            route = Route.of("PUT", "/applications/{application_id}/commands",
                             application_id=self._app_id())
        else:
            route = Route.of("PUT", "/applications/{application_id}/guilds/{guild_id}/commands",
                             application_id=self._app_id(), guild_id=guild_id)
        result: list[dict[str, Any]] = self.request(route, json=[dict(c) for c in commands])
        return result

    # -- OAuth2 (dashboard login) -------------------------------------------------------------

    def exchange_code(self, code: str, redirect_uri: str) -> dict[str, Any]:
        """POST /oauth2/token (authorization_code grant). Returns access_token, token_type,
        expires_in, refresh_token, scope. A bad code raises DiscordError(status=400)."""
        if not (self.client_id and self.client_secret):
            raise DiscordError("DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET are needed for OAuth2 login")
        result: dict[str, Any] = self.request(
            Route.of("POST", "/oauth2/token"), auth="basic",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})
        return result

    def get_current_user(self, bearer: str) -> dict[str, Any]:
        """GET /users/@me with a user's OAuth2 access token."""
        result: dict[str, Any] = self.request(Route.of("GET", "/users/@me"), auth="bearer", bearer=bearer)
        return result

    def get_current_user_guilds(self, bearer: str) -> list[dict[str, Any]]:
        """GET /users/@me/guilds with a user's OAuth2 access token (``permissions`` is a string)."""
        result: list[dict[str, Any]] = self.request(Route.of("GET", "/users/@me/guilds"),
                                                    auth="bearer", bearer=bearer)
        return result

    # -- the request loop ---------------------------------------------------------------------

    def request(
        self,
        route: Route,
        *,
        json: JSON = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        auth: Auth = "bot",
        bearer: str | None = None,
        reason: str | None = None,
        idempotent: bool = True,
        files: Sequence[Upload] | None = None,
    ) -> Any:
        """Send one request, honouring buckets, 429s and retries. Returns the JSON body (None for 204).

        With ``files`` the body goes as Discord's multipart shape: ``payload_json`` (``json``) plus
        ``files[n]`` parts.
        """
        headers = self._headers(auth, bearer, reason)
        multipart: list[tuple[str, tuple[str, bytes, str]]] | None = None
        if files:
            data = {"payload_json": _dumps(json)}
            multipart = [(f"files[{i}]", (f.filename, f.content, f.content_type)) for i, f in enumerate(files)]
            json = None
        counts_globally = auth == "bot"
        failures = 0
        while True:
            self._wait_for_capacity(route, counts_globally)
            try:
                response = self._http.request(route.method, route.path, json=json, data=data,
                                              params=params, headers=headers, files=multipart)
            except httpx.TransportError as exc:
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if failures < self.max_retries and (idempotent or never_sent):
                    failures += 1
                    self._backoff(failures, route, f"{type(exc).__name__}: {exc}")
                    continue
                raise DiscordError(f"{route.key}: Discord unreachable ({type(exc).__name__}: {exc})",
                                   status=0) from exc
            self._learn(route, response)
            status = response.status_code
            if status == 429:
                limited = self._rate_limited(route, response)
                if limited.retry_after <= self.max_inline_wait and failures < self.max_retries:
                    failures += 1
                    log.info("discord rate limited; waiting", extra={
                        "route": route.key, "retry_after": limited.retry_after, "global": limited.is_global})
                    continue  # _wait_for_capacity sleeps until the limit has passed
                raise limited
            if status >= 500 or status in RETRYABLE_STATUS:
                if idempotent and failures < self.max_retries:
                    failures += 1
                    self._backoff(failures, route, f"HTTP {status}")
                    continue
                raise DiscordError(f"{route.key}: Discord answered {status}", status=status)
            if status >= 400:
                raise _client_error(route, response)
            if status == 204 or not response.content:
                return None
            return response.json()

    # -- internals ----------------------------------------------------------------------------

    def _app_id(self) -> str:
        if not self.application_id:
            raise DiscordError("DISCORD_APPLICATION_ID is not set")
        return self.application_id

    def _headers(self, auth: Auth, bearer: str | None, reason: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if auth == "bot":
            if not self.bot_token:
                raise DiscordError("DISCORD_BOT_TOKEN is not set")
            headers["Authorization"] = f"Bot {self.bot_token}"
        elif auth == "bearer":
            headers["Authorization"] = f"Bearer {bearer}"
        elif auth == "basic":
            raw = f"{self.client_id}:{self.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        if reason:
            headers["X-Audit-Log-Reason"] = quote(reason[:512], safe=" ")
        return headers

    def _bucket_key(self, route: Route) -> tuple[str, str]:
        return (self._bucket_of_route.get(route.key, route.key), route.major)

    def _wait_for_capacity(self, route: Route, counts_globally: bool) -> None:
        """Block (through the injected sleeper) until both the route's bucket and the global
        limit allow one more request, or raise RateLimited if that would take too long."""
        while True:
            with self._lock:
                now = self._now()
                wait, is_global, bucket_name = 0.0, False, None
                if counts_globally and self._global_until > now:
                    wait, is_global = self._global_until - now, True
                key = self._bucket_key(route)
                bucket = self._buckets.get(key)
                if (bucket is not None and bucket.remaining <= 0 and bucket.reset_at > now
                        and bucket.reset_at - now > wait):
                    wait, is_global, bucket_name = bucket.reset_at - now, False, key[0]
                if counts_globally and wait <= 0:
                    while self._recent and self._recent[0] <= now - 1.0:
                        self._recent.popleft()
                    if len(self._recent) >= self.global_per_second:
                        wait, is_global = self._recent[0] + 1.0 - now, True
                if wait <= 0:
                    if bucket is not None and bucket.reset_at <= now:
                        bucket.remaining = bucket.limit  # the window has passed
                    if bucket is not None:
                        bucket.remaining -= 1  # reserve our slot until the response says otherwise
                    if counts_globally:
                        self._recent.append(now)
                    return
            if wait > self.max_inline_wait:
                raise RateLimited(retry_after=wait, bucket=bucket_name, is_global=is_global)
            self._sleep(wait)

    def _learn(self, route: Route, response: httpx.Response) -> None:
        h = response.headers
        bucket_hash = h.get("X-RateLimit-Bucket")
        remaining = _to_float(h.get("X-RateLimit-Remaining"))
        reset_after = _to_float(h.get("X-RateLimit-Reset-After"))
        limit = _to_float(h.get("X-RateLimit-Limit"))
        with self._lock:
            now = self._now()
            if bucket_hash:
                self._bucket_of_route[route.key] = bucket_hash
            if remaining is None or reset_after is None:
                return
            key = self._bucket_key(route)
            bucket = self._buckets.setdefault(key, _Bucket())
            bucket.remaining = int(remaining)
            bucket.limit = int(limit) if limit is not None else max(bucket.limit, int(remaining) + 1)
            bucket.reset_at = now + reset_after

    def _rate_limited(self, route: Route, response: httpx.Response) -> RateLimited:
        body = _json_or_empty(response)
        retry_after = _to_float(str(body.get("retry_after"))) if isinstance(body, dict) else None
        if retry_after is None:
            retry_after = _to_float(response.headers.get("Retry-After")) or 1.0
        is_global = bool(isinstance(body, dict) and body.get("global")) or \
            response.headers.get("X-RateLimit-Global", "").lower() == "true" or \
            response.headers.get("X-RateLimit-Scope", "") == "global"
        with self._lock:
            now = self._now()
            if is_global:
                self._global_until = max(self._global_until, now + retry_after)
            else:
                bucket = self._buckets.setdefault(self._bucket_key(route), _Bucket())
                bucket.remaining = 0
                bucket.reset_at = max(bucket.reset_at, now + retry_after)
        bucket_name = response.headers.get("X-RateLimit-Bucket") or route.key
        log.warning("discord 429", extra={"route": route.key, "retry_after": retry_after, "global": is_global,
                                          "scope": response.headers.get("X-RateLimit-Scope")})
        return RateLimited(retry_after=retry_after, bucket=bucket_name, is_global=is_global)

    def _backoff(self, failures: int, route: Route, why: str) -> None:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (failures - 1))
        log.warning("discord request failed; retrying", extra={
            "route": route.key, "why": why, "attempt": failures, "delay": delay})
        self._sleep(delay)


def _client_error(route: Route, response: httpx.Response) -> DiscordError:
    body = _json_or_empty(response)
    code: int | None = None
    message = response.reason_phrase or "error"
    if isinstance(body, dict):
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        message = str(body.get("message") or body.get("error_description") or body.get("error") or message)
        if body.get("errors"):
            message = f"{message}: {body['errors']}"
    label = f" {code}" if code is not None else ""
    return DiscordError(f"{route.key}: Discord answered {response.status_code}{label} {message}",
                        status=response.status_code, discord_code=code)


def _json_or_empty(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _to_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


__all__ = ["DiscordRest", "Route", "Upload"]


def fetch_avatar(cdn_base: str, user_id: int, avatar: str, *, size: int = 256, timeout: float = 2.0,
                 max_bytes: int = 2 * 1024 * 1024, transport: httpx.BaseTransport | None = None) -> bytes | None:
    """A user's avatar from Discord's CDN (``{cdn_base}/avatars/{user_id}/{hash}.png?size=``), or None.

    Best effort, for rank cards: a missing avatar, a timeout, an error status or an oversized body
    gives None (the caller draws initials) and is logged at debug level, never raised. The PNG of
    an animated (``a_``) avatar is its first frame. No bot token: the CDN is public.
    """
    if not avatar or not all(c.isalnum() or c == "_" for c in avatar):
        return None
    url = f"{cdn_base.rstrip('/')}/avatars/{int(user_id)}/{quote(avatar)}.png"
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=True) as client, \
                client.stream("GET", url, params={"size": size}) as response:
            if response.status_code != 200:
                log.debug("avatar %s: HTTP %s", url, response.status_code)
                return None
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    log.debug("avatar %s: larger than %d bytes", url, max_bytes)
                    return None
            return data
    except httpx.HTTPError as exc:
        log.debug("avatar %s: %s", url, exc)
        return None
