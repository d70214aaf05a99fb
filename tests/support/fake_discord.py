"""A fake Discord REST API: a real HTTP server on 127.0.0.1 (free port) that speaks Discord's shapes.

Usage (pytest)::

    # your conftest.py
    from tests.support.fake_discord import fake_discord  # noqa: F401  (re-export the fixture)

    def test_something(fake_discord):
        rest = fake_discord.client()                   # a DiscordRest pointed at the fake
        settings = fake_discord.settings()             # Settings with DISCORD_* pointing here
        os_env = fake_discord.env()                    # or the env vars, for code that reads os.environ
        rest.create_message("10", content="hi", nonce="n1")
        assert fake_discord.messages[0]["content"] == "hi"
        fake_discord.fail_next("POST /channels/{channel_id}/messages", 429, n=2, retry_after=1.5)
        fake_discord.fail_next("*", 500)                # any route, once
        fake_discord.fail_next("POST /channels/{channel_id}/messages", 500, after_commit=True)
                                                       # store the message, then answer 500 (lost reply)
        fake_discord.fail_next("PUT /guilds/{guild_id}/members/{user_id}/roles/{role_id}", 0)
                                                       # status 0: close the connection, no answer
        fake_discord.channel_error("99", 403, 50013)   # posting to channel 99 -> Missing Permissions
        fake_discord.add_oauth_user("code-1", user={"id": "42", "username": "ada"},
                                    guilds=[{"id": "789", "name": "G", "permissions": "8"}])
        fake_discord.requests                          # every request, recorded (Recorded objects)
        fake_discord.uploads                           # files sent as multipart (files[n] parts)
        fake_discord.reset()                           # forget state, faults and limits
        fake_discord.avatars[("42", "a1b2")] = png     # the CDN serves GET {cdn_base}/avatars/42/a1b2.png
        fake_discord.settings(discord_cdn_base=fake_discord.cdn_base)

Route keys are ``"METHOD /template"`` exactly as ``synapse.discord.rest.Route.key`` writes them:

    POST   /channels/{channel_id}/messages            GET /channels/{channel_id}/messages
    PUT    /guilds/{guild_id}/members/{user_id}/roles/{role_id}     (DELETE likewise)
    POST   /users/@me/channels                        (create DM)
    PATCH  /webhooks/{webhook_id}/{webhook_token}/messages/@original  (GET, DELETE likewise)
    POST   /webhooks/{webhook_id}/{webhook_token}     (follow-up; ?wait=true returns the message)
    POST   /interactions/{interaction_id}/{interaction_token}/callback
    PUT    /applications/{application_id}/commands    (GET likewise)
    PUT    /applications/{application_id}/guilds/{guild_id}/commands (GET likewise)
    POST   /oauth2/token     GET /users/@me     GET /users/@me/guilds
    GET    /guilds/{guild_id}   GET /guilds/{guild_id}/roles   GET /guilds/{guild_id}/channels
    GET    /guilds/{guild_id}/members/{user_id}
    GET    /avatars/{user_id}/{file}                  (the CDN, at ``cdn_base``: PNG bytes, no auth; 404 unknown)

Guilds with Discord's full object shapes (guild, channels, roles, the bot's own member)::

    fake_discord.add_guild("789", name="G", afk_channel_id="12",
                           channels=[channel("11", "general"), channel("12", "AFK", type=2)],
                           roles=[role("21", "Member", position=1), role("22", "Synapse", position=5,
                                  managed=True)], bot_roles=["22"])
    fake_discord.remove_channel("789", "11")       # it vanished (the next fetch no longer lists it)

Behaviour, per Discord's docs:

- every response carries ``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket``; limits are
  per route and top-level resource. They are reported, not enforced, unless ``set_limit(route,
  limit, window)`` says so; ``set_global_limit(per_second)`` enforces the global limit on
  bot requests. A 429 has ``{message, retry_after, global[, code]}``, ``Retry-After`` and
  ``X-RateLimit-Scope`` (``user``/``global``/``shared``), plus ``X-RateLimit-Global`` when global.
- Create Message with ``nonce`` + ``enforce_nonce``: the same nonce (same author) within
  ``nonce_window`` seconds returns the existing message and creates none.
- errors use Discord's JSON ``{"code", "message"[, "errors"]}``: 401 (code 0), 10003 Unknown
  Channel, 50001 Missing Access, 50013 Missing Permissions, 50006 empty message, 50007 DMs
  closed, 10015 Unknown Webhook, 50035 Invalid Form Body. OAuth2 errors use
  ``{"error", "error_description"}``.
- time: ``clock`` (default ``time.monotonic``) drives windows and the nonce window; share a
  fake clock with the client's injected ``monotonic`` to test waits without sleeping.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import json
import math
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

if TYPE_CHECKING:
    from synapse.config import Settings
    from synapse.discord.rest import DiscordRest

API_PREFIX = "/api/v10"
CDN_PREFIX = "/cdn"
DEFAULT_LIMIT = 50
DEFAULT_WINDOW = 1.0
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


@dataclass
class Recorded:
    """One request the fake received, and what it answered."""

    method: str
    path: str                 # without the /api/v10 prefix
    route: str                # "METHOD /template", or "METHOD ?" when no route matched
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]   # lower-case names
    json: Any
    form: dict[str, str]
    at: float
    status: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)  # multipart files[n] parts


@dataclass
class Fault:
    route: str
    status: int
    remaining: int
    retry_after: float | None = None
    is_global: bool = False
    code: int | None = None
    message: str | None = None
    after_commit: bool = False
    scope: str | None = None


@dataclass
class _Window:
    limit: int
    window: float
    enforce: bool
    count: int = 0
    started: float = 0.0


@dataclass
class _Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class _Error(Exception):
    def __init__(self, status: int, code: int, message: str, errors: Any = None) -> None:
        super().__init__(message)
        self.reply = _Reply(status, {"code": code, "message": message, **({"errors": errors} if errors else {})})


class _OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.reply = _Reply(status, {"error": error, "error_description": description})


def _form_error(field_name: str, code: str, message: str) -> _Error:
    return _Error(400, 50035, "Invalid Form Body",
                  {field_name: {"_errors": [{"code": code, "message": message}]}})


class FakeDiscord:
    """The fake. ``start()`` it (the fixture does), point clients at ``base_url``."""

    def __init__(self, *, bot_token: str = "fake-bot-token", application_id: str = "1100000000000000001",
                 client_id: str | None = None, client_secret: str = "fake-client-secret",
                 clock: Callable[[], float] = time.monotonic, nonce_window: float = 300.0,
                 default_limit: int = DEFAULT_LIMIT, default_window: float = DEFAULT_WINDOW) -> None:
        self.bot_token = bot_token
        self.application_id = application_id
        self.client_id = client_id or application_id
        self.client_secret = client_secret
        self.clock = clock
        self.nonce_window = nonce_window
        self.default_limit = default_limit
        self.default_window = default_window
        self.bot_user = _user({"id": application_id, "username": "Synapse", "bot": True})
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1300000000000000000)
        self._routes = _routes(self)
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeDiscord:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-discord", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeDiscord is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def cdn_base(self) -> str:
        """Where the fake's CDN answers (``Settings.discord_cdn_base``)."""
        return f"http://127.0.0.1:{self.port}{CDN_PREFIX}"

    # -- wiring helpers ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment variables that point Synapse at this fake."""
        return {"DISCORD_API_BASE": self.base_url, "DISCORD_BOT_TOKEN": self.bot_token,
                "DISCORD_APPLICATION_ID": self.application_id, "DISCORD_CLIENT_ID": self.client_id,
                "DISCORD_CLIENT_SECRET": self.client_secret}

    def settings(self, **overrides: Any) -> Settings:
        from synapse.config import load_settings

        values: dict[str, Any] = {"discord_api_base": self.base_url, "discord_bot_token": self.bot_token,
                                  "discord_application_id": self.application_id,
                                  "discord_client_id": self.client_id,
                                  "discord_client_secret": self.client_secret}
        values.update(overrides)
        return load_settings(**values)

    def client(self, **options: Any) -> DiscordRest:
        from synapse.discord.rest import DiscordRest

        return DiscordRest(base_url=self.base_url, bot_token=self.bot_token,
                           application_id=self.application_id, client_id=self.client_id,
                           client_secret=self.client_secret, **options)

    # -- scripting -----------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: state, recorded requests, faults and limits."""
        with self._lock:
            self.requests: list[Recorded] = []
            self.messages: list[dict[str, Any]] = []           # channel messages (DMs included)
            self.dm_channels: dict[str, dict[str, Any]] = {}   # user id -> DM channel
            self.member_roles: dict[tuple[str, str], set[str]] = {}
            self.role_changes: list[dict[str, Any]] = []       # {action, guild_id, user_id, role_id, reason}
            self.interaction_responses: dict[str, dict[str, Any]] = {}  # token -> @original message
            self.followups: list[dict[str, Any]] = []          # {token, message}
            self.interaction_callbacks: list[dict[str, Any]] = []
            self.commands: dict[str | None, list[dict[str, Any]]] = {}   # guild id (None: global) -> list
            self.guild_data: dict[str, dict[str, Any]] = {}    # guild id -> {roles, channels, members}
            self.expired_tokens: set[str] = set()
            self.uploads: list[dict[str, Any]] = []            # {field, filename, content, content_type, path}
            self.avatars: dict[tuple[str, str], bytes] = {}    # (user id, avatar hash) -> PNG served by the CDN
            self._channel_errors: dict[str, tuple[int, int, str]] = {}
            self._guild_errors: dict[str, tuple[int, int, str]] = {}
            self._closed_dms: set[str] = set()
            self._faults: list[Fault] = []
            self._windows: dict[tuple[str, str], _Window] = {}
            self._limits: dict[str, tuple[int, float, bool]] = {}
            self._global_limit: int | None = None
            self._global_times: list[float] = []
            self._oauth_codes: dict[str, dict[str, Any]] = {}
            self._tokens: dict[str, dict[str, Any]] = {}
            self._refresh: dict[str, dict[str, Any]] = {}

    def fail_next(self, route: str, status: int = 500, n: int = 1, *, retry_after: float | None = None,
                  is_global: bool = False, code: int | None = None, message: str | None = None,
                  after_commit: bool = False, scope: str | None = None) -> None:
        """Answer the next ``n`` requests to ``route`` (``"*"``: any) with ``status``.

        429 gets Discord's rate-limit body (``retry_after``, default 1.0; ``is_global``);
        4xx/5xx get ``{"code", "message"}``; status 0 closes the connection without an answer.
        ``after_commit=True`` performs the request first (the message is stored), then answers
        with the fault: the caller never learns it succeeded.
        """
        with self._lock:
            self._faults.append(Fault(route, status, n, retry_after if retry_after is not None else
                                      (1.0 if status == 429 else None), is_global, code, message,
                                      after_commit, scope))

    def set_limit(self, route: str, limit: int, window: float, *, enforce: bool = True) -> None:
        """Give ``route`` a bucket of ``limit`` requests per ``window`` seconds (per top-level resource)."""
        with self._lock:
            self._limits[route] = (limit, window, enforce)
            for key in [k for k in self._windows if k[0] == route]:
                del self._windows[key]

    def set_global_limit(self, per_second: int | None) -> None:
        with self._lock:
            self._global_limit = per_second

    def channel_error(self, channel_id: int | str, status: int = 403, code: int = 50013,
                      message: str | None = None) -> None:
        """Make every request about ``channel_id`` fail (403 50013 Missing Permissions, 404 10003…)."""
        with self._lock:
            self._channel_errors[str(channel_id)] = (status, code, message or _MESSAGES.get(code, "Error"))

    def guild_error(self, guild_id: int | str, status: int = 403, code: int = 50013,
                    message: str | None = None) -> None:
        """Make role changes in ``guild_id`` fail (e.g. the bot's role is below the target role)."""
        with self._lock:
            self._guild_errors[str(guild_id)] = (status, code, message or _MESSAGES.get(code, "Error"))

    def close_dms(self, user_id: int | str) -> None:
        """The user does not accept DMs: sending to their DM channel gives 403 50007."""
        with self._lock:
            self._closed_dms.add(str(user_id))

    def add_oauth_user(self, code: str, *, user: dict[str, Any], guilds: list[dict[str, Any]] | None = None,
                       redirect_uri: str | None = None, scope: str = "identify guilds") -> None:
        """Register an authorization ``code`` that exchanges for a token of ``user`` (with ``guilds``)."""
        full_user = _user(user)
        with self._lock:
            self._oauth_codes[code] = {"user": full_user, "guilds": guilds or [],
                                       "redirect_uri": redirect_uri, "scope": scope}

    # -- inspection ----------------------------------------------------------------------------

    def requests_to(self, route: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.route == route]

    def messages_in(self, channel_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if m["channel_id"] == str(channel_id)]

    # -- request handling (called from server threads) ------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> _Reply:
        split = urlsplit(raw_path)
        path = unquote(split.path)
        if path.startswith(API_PREFIX):
            path = path[len(API_PREFIX):]
        elif path.startswith(CDN_PREFIX + "/"):
            path = path[len(CDN_PREFIX):]
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        payload: Any = None
        form: dict[str, str] = {}
        ctype = headers.get("content-type", "")
        uploads: list[dict[str, Any]] = []
        if body and ctype.startswith("multipart/form-data"):
            body, uploads = _multipart(ctype, body, raw_path)
            ctype = "application/json"
        if body and "application/x-www-form-urlencoded" in ctype:
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        elif body:
            try:
                payload = json.loads(body)
            except ValueError:
                return _Reply(400, {"code": 50109, "message": "The request body contains invalid JSON."})
        with self._lock:
            now = self.clock()
            template, params, handler = self._match(method, path)
            route = f"{method} {template}" if template else f"{method} ?"
            rec = Recorded(method, path, route, params, query, headers, payload, form, now, files=uploads)
            self.requests.append(rec)
            self.uploads.extend(uploads)
            reply = self._dispatch(rec, template, handler, now)
            rec.status = reply.status
            return reply

    def _match(self, method: str, path: str) -> tuple[str | None, dict[str, str], Any]:
        for m, regex, template, handler in self._routes:
            if m != method:
                continue
            found = regex.fullmatch(path)
            if found:
                return template, found.groupdict(), handler
        return None, {}, None

    def _dispatch(self, rec: Recorded, template: str | None, handler: Any, now: float) -> _Reply:
        if handler is None:
            return _Reply(404, {"code": 0, "message": "404: Not Found"})
        bot = not rec.path.startswith(("/webhooks/", "/interactions/", "/oauth2/", "/avatars/")) and \
            not rec.headers.get("authorization", "").startswith("Bearer ")
        major = ":".join(rec.params[p] for p in ("channel_id", "guild_id", "webhook_id", "webhook_token")
                         if p in rec.params)
        window = self._window(rec.route, major, now)
        fault = self._take_fault(rec)
        if fault is not None and not fault.after_commit:
            return self._fault_reply(fault, window, rec.route, now)
        if bot:
            if rec.headers.get("authorization") != f"Bot {self.bot_token}":
                return self._with_limits(_Reply(401, {"code": 0, "message": "401: Unauthorized"}),
                                         window, rec.route, now)
            if self._global_limit is not None:
                self._global_times = [t for t in self._global_times if t > now - 1.0]
                if len(self._global_times) >= self._global_limit:
                    retry = round(self._global_times[0] + 1.0 - now, 3)
                    return self._rate_limit_reply(retry, True, "global", None, window, rec.route, now)
                self._global_times.append(now)
        if window.enforce and window.count >= window.limit:
            retry = round(window.started + window.window - now, 3)
            return self._rate_limit_reply(retry, False, "user", None, window, rec.route, now)
        window.count += 1
        try:
            reply: _Reply = handler(rec)
        except (_Error, _OAuthError) as exc:
            reply = exc.reply
        if fault is not None:  # after_commit: the work is done, the answer is lost
            return self._fault_reply(fault, window, rec.route, now)
        return self._with_limits(reply, window, rec.route, now)

    def _take_fault(self, rec: Recorded) -> Fault | None:
        template = rec.route.split(" ", 1)[1]
        for fault in self._faults:
            if fault.remaining > 0 and fault.route in ("*", rec.route, template):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_reply(self, fault: Fault, window: _Window, route: str, now: float) -> _Reply:
        if fault.status == 0:
            return _Reply(0, drop=True)
        if fault.status == 429:
            scope = fault.scope or ("global" if fault.is_global else "user")
            return self._rate_limit_reply(fault.retry_after or 1.0, fault.is_global, scope, fault.code,
                                          window, route, now)
        code = fault.code if fault.code is not None else 0
        message = fault.message or _MESSAGES.get(code) or f"{fault.status}: scripted failure"
        return self._with_limits(_Reply(fault.status, {"code": code, "message": message}), window, route, now)

    def _rate_limit_reply(self, retry_after: float, is_global: bool, scope: str, code: int | None,
                          window: _Window, route: str, now: float) -> _Reply:
        body: dict[str, Any] = {"message": "You are being rate limited.", "retry_after": retry_after,
                                "global": is_global}
        if code is not None:
            body["code"] = code
        headers = {"Retry-After": str(math.ceil(retry_after)), "X-RateLimit-Scope": scope}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
            return _Reply(429, body, headers)
        reply = self._with_limits(_Reply(429, body, headers), window, route, now)
        reply.headers["X-RateLimit-Remaining"] = "0"
        reply.headers["X-RateLimit-Reset-After"] = f"{retry_after:.3f}"
        reply.headers["X-RateLimit-Reset"] = f"{time.time() + retry_after:.3f}"
        return reply

    def _window(self, route: str, major: str, now: float) -> _Window:
        key = (route, major)
        w = self._windows.get(key)
        if w is None:
            limit, length, enforce = self._limits.get(route, (self.default_limit, self.default_window, False))
            w = self._windows[key] = _Window(limit, length, enforce, 0, now)
        if now >= w.started + w.window:
            w.count, w.started = 0, now
        return w

    def _with_limits(self, reply: _Reply, window: _Window, route: str, now: float) -> _Reply:
        reset_after = max(0.0, window.started + window.window - now)
        reply.headers.update({
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(max(0, window.limit - window.count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": _bucket_hash(route),
        })
        return reply

    # -- resources -----------------------------------------------------------------------------

    def _snowflake(self) -> str:
        return str(next(self._ids))

    def _check_channel(self, channel_id: str) -> None:
        if channel_id in self._channel_errors:
            status, code, message = self._channel_errors[channel_id]
            raise _Error(status, code, message)

    def create_message(self, rec: Recorded) -> _Reply:
        channel_id = rec.params["channel_id"]
        self._check_channel(channel_id)
        body = rec.json if isinstance(rec.json, dict) else {}
        recipient = next((u for u, ch in self.dm_channels.items() if ch["id"] == channel_id), None)
        if recipient is not None and recipient in self._closed_dms:
            raise _Error(403, 50007, "Cannot send messages to this user")
        content = body.get("content") or ""
        embeds = body.get("embeds") or []
        nonce = body.get("nonce")
        if len(content) > 2000:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        if len(embeds) > 10:
            raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        if nonce is not None and len(str(nonce)) > 25:
            raise _form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if not content and not embeds:
            raise _Error(400, 50006, "Cannot send an empty message")
        now = self.clock()
        if nonce is not None and body.get("enforce_nonce"):
            for existing in self.messages:
                if existing["nonce"] == str(nonce) and existing["author"]["id"] == self.bot_user["id"] \
                        and now - existing["_created"] <= self.nonce_window:
                    return _Reply(200, _public(existing))
        mentions, everyone = _mentions(content, body.get("allowed_mentions"))
        message = {
            "id": self._snowflake(), "channel_id": channel_id, "type": 0, "content": content,
            "embeds": _embeds(embeds), "author": self.bot_user, "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None, "tts": False, "mention_everyone": everyone,
            "mentions": [{"id": m} for m in mentions], "mention_roles": [], "attachments": [],
            "pinned": False, "flags": 0, "components": [],
            "nonce": None if nonce is None else str(nonce), "_created": now,
        }
        self.messages.append(message)
        return _Reply(200, _public(message))

    def list_messages(self, rec: Recorded) -> _Reply:
        self._check_channel(rec.params["channel_id"])
        found = [_public(m) for m in reversed(self.messages) if m["channel_id"] == rec.params["channel_id"]]
        return _Reply(200, found[: int(rec.query.get("limit", "50"))])

    def change_role(self, rec: Recorded) -> _Reply:
        guild_id, user_id, role_id = rec.params["guild_id"], rec.params["user_id"], rec.params["role_id"]
        if guild_id in self._guild_errors:
            status, code, message = self._guild_errors[guild_id]
            raise _Error(status, code, message)
        roles = self.member_roles.setdefault((guild_id, user_id), set())
        action = "add" if rec.method == "PUT" else "remove"
        (roles.add if action == "add" else roles.discard)(role_id)
        reason = rec.headers.get("x-audit-log-reason")
        self.role_changes.append({"action": action, "guild_id": guild_id, "user_id": user_id,
                                  "role_id": role_id, "reason": unquote(reason) if reason else None})
        return _Reply(204)

    def create_dm(self, rec: Recorded) -> _Reply:
        body = rec.json if isinstance(rec.json, dict) else {}
        recipient = str(body.get("recipient_id") or "")
        if not recipient.isdigit():
            raise _form_error("recipient_id", "NUMBER_TYPE_COERCE", "Value is not snowflake.")
        channel = self.dm_channels.get(recipient)
        if channel is None:
            channel = self.dm_channels[recipient] = {
                "id": self._snowflake(), "type": 1, "last_message_id": None, "flags": 0,
                "recipients": [_user({"id": recipient, "username": f"user{recipient}"})]}
        return _Reply(200, channel)

    def _webhook_token(self, rec: Recorded) -> str:
        if rec.params["webhook_id"] != self.application_id or rec.params["webhook_token"] in self.expired_tokens:
            raise _Error(404, 10015, "Unknown Webhook")
        return rec.params["webhook_token"]

    def _webhook_message(self, body: Any, previous: dict[str, Any] | None = None) -> dict[str, Any]:
        body = body if isinstance(body, dict) else {}
        base = previous or {"id": self._snowflake(), "channel_id": "0", "type": 20, "content": "",
                            "embeds": [], "components": [], "attachments": [], "flags": 0, "author": self.bot_user,
                            "webhook_id": self.application_id, "application_id": self.application_id,
                            "timestamp": datetime.now(UTC).isoformat(), "edited_timestamp": None,
                            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
                            "pinned": False}
        message = dict(base)
        for key in ("content", "embeds", "components", "flags", "attachments"):   # allowed_mentions is not echoed
            if key in body:
                message[key] = _embeds(body[key]) if key == "embeds" else body[key]
        if isinstance(body.get("attachments"), list):
            message["attachments"] = [
                {"id": self._snowflake(), "filename": a.get("filename", "file"), "size": 0,
                 "url": f"https://cdn.discordapp.com/attachments/0/0/{a.get('filename', 'file')}",
                 "proxy_url": f"https://media.discordapp.net/attachments/0/0/{a.get('filename', 'file')}"}
                for a in body["attachments"] if isinstance(a, dict)]
        if len(message.get("content") or "") > 2000:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        return message

    def edit_original(self, rec: Recorded) -> _Reply:
        token = self._webhook_token(rec)
        message = self._webhook_message(rec.json, self.interaction_responses.get(token))
        if token in self.interaction_responses:
            message["edited_timestamp"] = datetime.now(UTC).isoformat()
        self.interaction_responses[token] = message
        return _Reply(200, message)

    def get_original(self, rec: Recorded) -> _Reply:
        token = self._webhook_token(rec)
        if token not in self.interaction_responses:
            raise _Error(404, 10008, "Unknown Message")
        return _Reply(200, self.interaction_responses[token])

    def delete_original(self, rec: Recorded) -> _Reply:
        token = self._webhook_token(rec)
        if self.interaction_responses.pop(token, None) is None:
            raise _Error(404, 10008, "Unknown Message")
        return _Reply(204)

    def followup(self, rec: Recorded) -> _Reply:
        token = self._webhook_token(rec)
        message = self._webhook_message(rec.json)
        if not message["content"] and not message["embeds"]:
            raise _Error(400, 50006, "Cannot send an empty message")
        self.followups.append({"token": token, "message": message})
        return _Reply(200, message) if rec.query.get("wait", "").lower() == "true" else _Reply(204)

    def avatar(self, rec: Recorded) -> _Reply:
        """The CDN: ``/avatars/{user_id}/{hash}.png`` (``?size=`` ignored), as Discord serves it."""
        stem, _, ext = rec.params["file"].rpartition(".")
        data = self.avatars.get((rec.params["user_id"], stem))
        if data is None or ext not in ("png", "webp", "jpg", "gif"):
            return _Reply(404, b"", {"Content-Type": "text/plain"})
        return _Reply(200, data, {"Content-Type": "image/png"})

    def interaction_callback(self, rec: Recorded) -> _Reply:
        self.interaction_callbacks.append({"interaction_id": rec.params["interaction_id"],
                                           "token": rec.params["interaction_token"], "body": rec.json})
        return _Reply(204)

    def put_commands(self, rec: Recorded) -> _Reply:
        if rec.params["application_id"] != self.application_id:
            raise _Error(403, 50001, "Missing Access")
        guild_id = rec.params.get("guild_id")
        if guild_id is not None and guild_id in self._guild_errors:
            status, code, message = self._guild_errors[guild_id]
            raise _Error(status, code, message)
        if not isinstance(rec.json, list) or len(rec.json) > 100:
            raise _form_error("_root", "BASE_TYPE_MAX_LENGTH", "Must be a list of 100 or fewer commands.")
        existing = {c["name"]: c for c in self.commands.get(guild_id, [])}
        stored = []
        for i, spec in enumerate(rec.json):
            name = str(spec.get("name", ""))
            kind = int(spec.get("type", 1))
            if not COMMAND_NAME.fullmatch(name) or (kind == 1 and name != name.lower()):
                raise _form_error(f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if kind == 1 and not 1 <= len(str(spec.get("description", ""))) <= 100:
                raise _form_error(f"{i}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            old = existing.get(name)
            command = {"id": old["id"] if old else self._snowflake(), "application_id": self.application_id,
                       "version": self._snowflake(), "type": kind, "options": [],
                       "default_member_permissions": None, "nsfw": False, **spec}
            if guild_id is not None:
                command["guild_id"] = guild_id
            stored.append(command)
        self.commands[guild_id] = stored
        return _Reply(200, stored)

    def get_commands(self, rec: Recorded) -> _Reply:
        return _Reply(200, self.commands.get(rec.params.get("guild_id"), []))

    def oauth_token(self, rec: Recorded) -> _Reply:
        form = rec.form
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = rec.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            raise _OAuthError(401, "invalid_client", "Unknown client or bad secret")
        grant = form.get("grant_type")
        if grant == "authorization_code":
            grant_data = self._oauth_codes.pop(form.get("code", ""), None)
            if grant_data is None:
                raise _OAuthError(400, "invalid_grant", 'Invalid "code" in request.')
            if grant_data["redirect_uri"] is not None and form.get("redirect_uri") != grant_data["redirect_uri"]:
                raise _OAuthError(400, "invalid_grant", 'Invalid "redirect_uri" in request.')
        elif grant == "refresh_token":
            grant_data = self._refresh.pop(form.get("refresh_token", ""), None)
            if grant_data is None:
                raise _OAuthError(400, "invalid_grant", "Invalid refresh token")
        else:
            raise _OAuthError(400, "unsupported_grant_type", f"Unsupported grant type {grant!r}")
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self._tokens[access] = grant_data
        self._refresh[refresh] = grant_data
        return _Reply(200, {"access_token": access, "token_type": "Bearer", "expires_in": 604800,
                            "refresh_token": refresh, "scope": grant_data["scope"]})

    def _bearer(self, rec: Recorded) -> dict[str, Any] | None:
        auth = rec.headers.get("authorization", "")
        if auth == f"Bot {self.bot_token}":
            return None
        grant = self._tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        if grant is None:
            raise _Error(401, 0, "401: Unauthorized")
        return grant

    def current_user(self, rec: Recorded) -> _Reply:
        grant = self._bearer(rec)
        user = self.bot_user if grant is None else grant["user"]
        return _Reply(200, {"locale": "en-US", "mfa_enabled": False, **user})   # UserPIIResponse

    def current_user_guilds(self, rec: Recorded) -> _Reply:
        grant = self._bearer(rec)
        if grant is not None and "guilds" not in grant["scope"].split():
            raise _Error(403, 50001, "Missing Access")
        guilds = [] if grant is None else grant["guilds"]
        full = [{"icon": None, "banner": None, "owner": False, "permissions": "0", "features": [], **g}
                for g in guilds]
        return _Reply(200, full)

    def add_guild(self, guild_id: int | str, *, name: str = "Guild", channels: list[dict[str, Any]] | None = None,
                  roles: list[dict[str, Any]] | None = None, afk_channel_id: int | str | None = None,
                  bot_roles: list[int | str] | None = None, owner_id: int | str = "1") -> dict[str, Any]:
        """Give ``guild_id`` a guild object, channels, roles (@everyone added) and the bot as a member."""
        gid = str(guild_id)
        everyone = role(gid, "@everyone", position=0, permissions="1071698660929")
        all_roles = [everyone, *(roles or [])]
        guild = {"id": gid, "name": name, "icon": None, "splash": None, "discovery_splash": None,
                 "owner_id": str(owner_id), "afk_channel_id": None if afk_channel_id is None else str(afk_channel_id),
                 "afk_timeout": 300, "widget_enabled": False, "verification_level": 1,
                 "default_message_notifications": 1, "explicit_content_filter": 2, "roles": all_roles,
                 "emojis": [], "features": [], "mfa_level": 0, "application_id": None,
                 "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
                 "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
                 "preferred_locale": "en-US", "public_updates_channel_id": None, "nsfw_level": 0,
                 "premium_progress_bar_enabled": False, "home_header": None, "region": "deprecated",
                 "widget_channel_id": None, "max_presences": None, "max_members": 500000,
                 "max_stage_video_channel_users": 50, "max_video_channel_users": 25,
                 "premium_subscription_count": 0, "safety_alerts_channel_id": None, "nsfw": False, "stickers": [],
                 "incidents_data": None}
        bot_member = {"user": self.bot_user, "nick": None, "avatar": None,
                      "roles": [str(r) for r in bot_roles or []], "joined_at": "2024-01-01T00:00:00+00:00",
                      "premium_since": None, "deaf": False, "mute": False, "flags": 0, "pending": False}
        with self._lock:
            data = self.guild_data.setdefault(gid, {})
            data["guild"] = guild
            data["channels"] = [{**c, "guild_id": gid} for c in channels or []]
            data["roles"] = all_roles
            data.setdefault("members", {})[self.bot_user["id"]] = bot_member
        return guild

    def remove_channel(self, guild_id: int | str, channel_id: int | str) -> None:
        """The channel is deleted in Discord: channel lists no longer show it."""
        with self._lock:
            data = self.guild_data[str(guild_id)]
            data["channels"] = [c for c in data.get("channels", []) if c["id"] != str(channel_id)]

    def get_guild(self, rec: Recorded) -> _Reply:
        guild_id = rec.params["guild_id"]
        if guild_id in self._guild_errors:
            status, code, message = self._guild_errors[guild_id]
            raise _Error(status, code, message)
        data = self.guild_data.get(guild_id)
        if data is None:
            raise _Error(404, 10004, "Unknown Guild")
        guild = data.get("guild") or {"id": guild_id, "name": "Guild", "afk_channel_id": None, "afk_timeout": 300,
                                      "owner_id": "1", "features": []}
        return _Reply(200, {**guild, "roles": data.get("roles", [])})

    def guild_part(self, rec: Recorded) -> _Reply:
        guild_id = rec.params["guild_id"]
        if guild_id in self._guild_errors:
            status, code, message = self._guild_errors[guild_id]
            raise _Error(status, code, message)
        data = self.guild_data.get(guild_id)
        if data is None:
            raise _Error(404, 10004, "Unknown Guild")
        if "user_id" in rec.params:
            member = data.get("members", {}).get(rec.params["user_id"])
            if member is None:
                raise _Error(404, 10007, "Unknown Member")
            return _Reply(200, member)
        part = rec.path.rsplit("/", 1)[1]
        return _Reply(200, data.get(part, []))


def channel(channel_id: int | str, name: str, *, type: int = 0, position: int = 0,
            parent_id: int | str | None = None) -> dict[str, Any]:
    """A guild channel object as ``GET /guilds/{id}/channels`` returns it (type 0 text, 2 voice, 4 category)."""
    out: dict[str, Any] = {"id": str(channel_id), "type": type, "name": name, "position": position,
                           "flags": 0, "parent_id": None if parent_id is None else str(parent_id),
                           "permission_overwrites": [], "nsfw": False}
    if type in (0, 5, 15):
        out.update({"topic": None, "last_message_id": None, "rate_limit_per_user": 0})
    if type == 2:
        out.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None, "last_message_id": None})
    return out


def role(role_id: int | str, name: str, *, position: int = 1, color: int = 0, managed: bool = False,
         permissions: str = "0", bot_id: str | None = None, premium_subscriber: bool = False) -> dict[str, Any]:
    """A role object as ``GET /guilds/{id}/roles`` returns it (``managed`` + ``tags.bot_id``: a bot's own role;
    ``premium_subscriber``: the server-booster role, managed, ``tags.premium_subscriber`` present as null)."""
    out: dict[str, Any] = {"id": str(role_id), "name": name, "color": color,
                           "colors": {"primary_color": color, "secondary_color": None, "tertiary_color": None},
                           "hoist": False, "icon": None, "unicode_emoji": None, "position": position,
                           "permissions": permissions, "managed": managed, "mentionable": False, "flags": 0}
    if premium_subscriber:
        out["managed"] = True
        out["tags"] = {"premium_subscriber": None}
    elif managed:
        out["tags"] = {"bot_id": bot_id} if bot_id else {"integration_id": "1"}
    return out


_MESSAGES = {0: "General error", 10003: "Unknown Channel", 10004: "Unknown Guild", 10007: "Unknown Member",
             10008: "Unknown Message", 10011: "Unknown Role", 10015: "Unknown Webhook",
             50001: "Missing Access", 50007: "Cannot send messages to this user",
             50013: "Missing Permissions"}


def _routes(fake: FakeDiscord) -> list[tuple[str, re.Pattern[str], str, Callable[[Recorded], _Reply]]]:
    table: list[tuple[str, str, Callable[[Recorded], _Reply]]] = [
        ("POST", "/channels/{channel_id}/messages", fake.create_message),
        ("GET", "/channels/{channel_id}/messages", fake.list_messages),
        ("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", fake.change_role),
        ("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", fake.change_role),
        ("POST", "/users/@me/channels", fake.create_dm),
        ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", fake.edit_original),
        ("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", fake.get_original),
        ("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original", fake.delete_original),
        ("POST", "/webhooks/{webhook_id}/{webhook_token}", fake.followup),
        ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", fake.interaction_callback),
        ("PUT", "/applications/{application_id}/commands", fake.put_commands),
        ("GET", "/applications/{application_id}/commands", fake.get_commands),
        ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", fake.put_commands),
        ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", fake.get_commands),
        ("POST", "/oauth2/token", fake.oauth_token),
        ("GET", "/users/@me", fake.current_user),
        ("GET", "/users/@me/guilds", fake.current_user_guilds),
        ("GET", "/guilds/{guild_id}", fake.get_guild),
        ("GET", "/guilds/{guild_id}/roles", fake.guild_part),
        ("GET", "/guilds/{guild_id}/channels", fake.guild_part),
        ("GET", "/guilds/{guild_id}/members/{user_id}", fake.guild_part),
        ("GET", "/avatars/{user_id}/{file}", fake.avatar),
    ]
    out = []
    for method, template, handler in table:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        out.append((method, re.compile(pattern), template, handler))
    return out


def _multipart(ctype: str, body: bytes, path: str) -> tuple[bytes, list[dict[str, Any]]]:
    """Discord's upload shape: the ``payload_json`` part is the JSON body; ``files[n]`` are files."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
    payload: Any = None
    files: list[dict[str, Any]] = []
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        if name == "payload_json":
            payload = json.loads(data)
        elif isinstance(name, str) and name.startswith("files["):
            files.append({"field": name, "filename": part.get_filename(), "content": data,
                          "content_type": part.get_content_type(), "path": path})
    return json.dumps(payload).encode(), files


def _user(fields: dict[str, Any]) -> dict[str, Any]:
    """A user object with every field Discord's UserResponse always carries (null when unset)."""
    return {"discriminator": "0", "global_name": None, "avatar": None, "public_flags": 0, "flags": 0,
            "primary_guild": None, **fields}


def _embeds(embeds: Any) -> Any:
    """Embeds as Discord echoes them: ``type`` is ``"rich"`` unless the sender set one."""
    if not isinstance(embeds, list):
        return embeds
    return [{"type": "rich", **e} if isinstance(e, dict) else e for e in embeds]


def _bucket_hash(route: str) -> str:
    # Discord shares one bucket between adding and removing a member's role.
    shared = route.replace("DELETE /guilds", "PUT /guilds")
    return hashlib.sha1(shared.encode()).hexdigest()[:16]


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if not k.startswith("_")}


def _mentions(content: str, allowed: Any) -> tuple[list[str], bool]:
    """Who a message pings, per Discord's allowed_mentions rules (default: parse everything)."""
    parse = ["users", "roles", "everyone"] if not isinstance(allowed, dict) else list(allowed.get("parse", []))
    users_allowed = [] if not isinstance(allowed, dict) else [str(u) for u in allowed.get("users", [])]
    mentioned = re.findall(r"<@!?(\d+)>", content)
    users = [u for u in dict.fromkeys(mentioned) if "users" in parse or u in users_allowed]
    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    return users, everyone


class _Handler(BaseHTTPRequestHandler):
    owner: FakeDiscord
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # headers and body leave in one write (flushed after each request)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.owner.handle(self.command, self.path, headers, body)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        raw = isinstance(reply.body, bytes)   # the CDN's images
        data = b"" if reply.body is None or reply.status == 204 else reply.body if raw else \
            json.dumps(reply.body).encode()
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if data and not raw:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


@pytest.fixture
def fake_discord() -> Iterator[FakeDiscord]:
    """A started FakeDiscord, stopped after the test. Re-export it from your conftest to use it."""
    fake = FakeDiscord().start()
    try:
        yield fake
    finally:
        fake.stop()


__all__ = ["FakeDiscord", "Fault", "Recorded", "channel", "fake_discord", "role"]
