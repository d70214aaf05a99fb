"""Send outbox rows to Discord (and outbound webhooks): at-least-once, never twice.

One row at a time, each in its own short transaction:

1. ``SELECT … FOR UPDATE SKIP LOCKED``: a row another worker is sending is skipped, not waited for;
   a row already ``sent``/``failed``/``held`` is skipped (a redelivered queue message sends nothing).
2. Call Discord. Messages carry a ``nonce`` derived from ``(guild_id, dedupe_key)`` with
   ``enforce_nonce``: if a previous attempt reached Discord but its answer was lost, Discord returns
   the message it already made instead of posting a second one.
3. Record the outcome on the row: ``sent`` (``sent_at``); ``failed`` with ``last_error`` for 4xx
   (missing permissions, unknown channel, DMs closed: retrying cannot help); or still ``pending``
   with ``attempts + 1`` and ``next_attempt_at`` for 429 (``retry_after``) and 5xx/unreachable
   (exponential backoff). After ``max_attempts`` a row is ``failed``.

Without Discord credentials rows stay ``pending`` (logged once per process), so nothing is lost
when credentials are added. ``sweep`` re-sends pending rows whose time has come (a timer calls it).
Payload contract: ``synapse/discord/README.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, text

from synapse.clock import Clock
from synapse.discord import embeds as E
from synapse.discord.rest import DiscordRest
from synapse.errors import DiscordError, EnvelopeError, ErrorDetail, RateLimited

log = logging.getLogger(__name__)

DISCORD_KINDS = frozenset({"announce", "message", "dm", "role_add", "role_remove"})
KINDS = DISCORD_KINDS | {"webhook"}
MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(seconds=15)  # early retries stay inside Discord's nonce window
BACKOFF_MAX = timedelta(hours=1)
NONCE_LENGTH = 25  # Discord's maximum

_no_credentials_logged = False
_log_lock = threading.Lock()


class PayloadError(ValueError):
    """An outbox row that can never be sent as it is (bad payload, no channel configured)."""


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    retry: int = 0          # left pending with a next_attempt_at
    skipped: int = 0        # locked elsewhere, already done, not due, or gone
    waiting: int = 0        # left pending because Discord credentials are missing
    errors: list[str] = field(default_factory=list)

    def add(self, other: SendReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retry += other.retry
        self.skipped += other.skipped
        self.waiting += other.waiting
        self.errors.extend(other.errors)

    def as_log(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "retry": self.retry, "skipped": self.skipped,
                "waiting": self.waiting}


# -- the queue message ---------------------------------------------------------------------------

def decode_message(body: bytes | str) -> tuple[int | None, list[int]]:
    """``(guild_id or None, outbox ids)`` from a synapse-announce message; EnvelopeError if malformed.

    Accepts ``{"v": 1, "outbox_ids": [..]}`` and ``{"guild_id": "..", "ids": [..]}``.
    """
    try:
        raw = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError("announce message is not JSON", [ErrorDetail("$", str(exc))]) from None
    if not isinstance(data, dict):
        raise EnvelopeError("announce message is not a JSON object", [ErrorDetail("$", type(data).__name__)])
    problems: list[ErrorDetail] = []
    key = "outbox_ids" if "outbox_ids" in data else "ids"
    ids = data.get(key)
    if not isinstance(ids, list) or not ids:
        problems.append(ErrorDetail(key, "must be a non-empty list of outbox ids"))
        ids = []
    parsed: list[int] = []
    for i, value in enumerate(ids):
        number = _snowflake(value)
        if number is None:
            problems.append(ErrorDetail(f"{key}[{i}]", f"not an outbox id: {value!r}"))
        else:
            parsed.append(number)
    guild_id = None
    if data.get("guild_id") is not None:
        guild_id = _snowflake(data["guild_id"])
        if guild_id is None:
            problems.append(ErrorDetail("guild_id", f"not a snowflake: {data['guild_id']!r}"))
    if problems:
        raise EnvelopeError("bad announce message", problems)
    return guild_id, parsed


def _snowflake(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


def nonce_for(guild_id: int, dedupe_key: str) -> str:
    """A deterministic Discord nonce (at most 25 characters) for one outbox row."""
    digest = hashlib.sha256(f"{guild_id}:{dedupe_key}".encode()).hexdigest()
    return "s" + digest[: NONCE_LENGTH - 1]


# -- the sender --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Row:
    guild_id: int
    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int


class Announcer:
    """Sends outbox rows. ``rest`` is None when Discord credentials are missing."""

    def __init__(self, engine: Engine, rest: DiscordRest | None, *, clock: Clock,
                 max_attempts: int = MAX_ATTEMPTS, http: httpx.Client | None = None,
                 webhook_timeout: float = 10.0) -> None:
        self.engine = engine
        self.rest = rest
        self.clock = clock
        self.max_attempts = max_attempts
        self._http = http
        self._webhook_timeout = webhook_timeout

    def send(self, ids: Sequence[int], *, guild_id: int | None = None) -> SendReport:
        """Send the given pending rows (the queue trigger's job)."""
        report = SendReport()
        for outbox_id in dict.fromkeys(ids):
            report.add(self._send_one(outbox_id, guild_id))
        if report.sent or report.failed or report.retry:
            log.info("announce batch", extra=report.as_log())
        return report

    def sweep(self, *, limit: int = 200, min_age_seconds: float = 30.0) -> SendReport:
        """Send pending rows that are due: retries whose ``next_attempt_at`` passed, and rows older
        than ``min_age_seconds`` whose queue message was lost (younger ones are left to the queue)."""
        now = self.clock.now()
        with self.engine.connect() as conn:
            due = conn.execute(text("""
                SELECT guild_id, id FROM outbox
                WHERE status = 'pending'
                  AND (next_attempt_at IS NOT NULL AND next_attempt_at <= :now
                       OR next_attempt_at IS NULL AND created_at <= :young)
                ORDER BY next_attempt_at NULLS FIRST, id
                LIMIT :limit"""), {"now": now, "young": now - timedelta(seconds=min_age_seconds),
                                   "limit": limit}).all()
        report = SendReport()
        for row in due:
            report.add(self._send_one(int(row.id), int(row.guild_id)))
        if due:
            log.info("announce sweep", extra={**report.as_log(), "due": len(due)})
        return report

    # -- one row ---------------------------------------------------------------------------

    def _send_one(self, outbox_id: int, guild_id: int | None) -> SendReport:
        report = SendReport()
        with self.engine.begin() as conn:
            found = conn.execute(text(f"""
                SELECT guild_id, id, kind, dedupe_key, payload, status, attempts, next_attempt_at
                FROM outbox WHERE id = :id {"AND guild_id = :g" if guild_id is not None else ""}
                FOR UPDATE SKIP LOCKED"""), {"id": outbox_id, "g": guild_id}).first()
            now = self.clock.now()
            if found is None or found.status != "pending" or (
                    found.next_attempt_at is not None and found.next_attempt_at > now):
                report.skipped += 1
                return report
            row = _Row(int(found.guild_id), int(found.id), str(found.kind), str(found.dedupe_key),
                       dict(found.payload or {}), int(found.attempts))
            if row.kind in DISCORD_KINDS and self.rest is None:
                _log_no_credentials()
                report.waiting += 1
                return report
            try:
                self._perform(conn, row)
            except RateLimited as exc:  # waiting for a bucket is not failing: no attempt is spent
                self._retry(conn, row, now + timedelta(seconds=exc.retry_after + 0.05),
                            f"429 rate limited ({'global' if exc.is_global else exc.bucket}), "
                            f"retry after {exc.retry_after:.2f}s", report, counts=False)
            except DiscordError as exc:
                if _permanent(exc.status):
                    self._fail(conn, row, _describe(exc), report)
                else:
                    self._retry(conn, row, now + _backoff(row.attempts), _describe(exc), report)
            except PayloadError as exc:
                self._fail(conn, row, f"bad payload: {exc}", report)
            except _WebhookFailed as exc:
                if exc.permanent:
                    self._fail(conn, row, str(exc), report)
                else:
                    self._retry(conn, row, now + _backoff(row.attempts), str(exc), report)
            else:
                conn.execute(text("""
                    UPDATE outbox SET status = 'sent', sent_at = :now, attempts = attempts + 1,
                                      last_error = NULL, next_attempt_at = NULL
                    WHERE guild_id = :g AND id = :id"""), {"now": now, "g": row.guild_id, "id": row.id})
                report.sent += 1
        return report

    def _retry(self, conn: Connection, row: _Row, at: datetime, error: str, report: SendReport, *,
               counts: bool = True) -> None:
        """Leave the row pending until ``at``; ``counts=False`` (rate limits) spends no attempt, so a
        burst queued behind a long bucket reset is delayed, never given up on."""
        if counts and row.attempts + 1 >= self.max_attempts:
            self._fail(conn, row, f"gave up after {row.attempts + 1} attempts: {error}", report)
            return
        conn.execute(text("""
            UPDATE outbox SET attempts = attempts + :spent, last_error = :err, next_attempt_at = :at
            WHERE guild_id = :g AND id = :id"""), {"spent": int(counts), "err": error[:1000], "at": at,
                                                   "g": row.guild_id, "id": row.id})
        log.warning("announce will retry", extra={"outbox_id": row.id, "guild_id": row.guild_id,
                                                  "kind": row.kind, "error": error, "next_attempt_at": at.isoformat()})
        report.retry += 1

    def _fail(self, conn: Connection, row: _Row, error: str, report: SendReport) -> None:
        conn.execute(text("""
            UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = :err,
                              next_attempt_at = NULL
            WHERE guild_id = :g AND id = :id"""), {"err": error[:1000], "g": row.guild_id, "id": row.id})
        log.error("announce failed for good", extra={"outbox_id": row.id, "guild_id": row.guild_id,
                                                     "kind": row.kind, "error": error})
        report.failed += 1
        report.errors.append(f"{row.id}: {error}")

    # -- the calls -------------------------------------------------------------------------

    def _perform(self, conn: Connection, row: _Row) -> None:
        p = row.payload
        if row.kind == "webhook":
            self._send_webhook(conn, row)
            return
        rest = self.rest
        if rest is None:  # pragma: no cover - checked by the caller
            raise DiscordError("no Discord credentials")
        if row.kind in ("role_add", "role_remove"):
            user_id, role_id = _required(p, "user_id"), _required(p, "role_id")
            reason = str(p.get("reason") or "")[:400] or None
            if row.kind == "role_add":
                rest.add_role(row.guild_id, user_id, role_id, reason=reason)
            else:
                rest.remove_role(row.guild_id, user_id, role_id, reason=reason)
            return
        member = p.get("user_id")
        pingable = [str(member)] if member is not None else []
        if row.kind == "announce":
            channel_id = self._resolve_channel(conn, row, rest)
            embed = p.get("embed")
            message_embeds = [embed] if isinstance(embed, Mapping) else []
            allowed = E.safe_allowed_mentions(pingable)
        elif row.kind == "message":
            channel_id = _required(p, "channel_id")
            message_embeds = _embed_list(p.get("embeds"))
            requested = p.get("allowed_mentions")
            allowed = E.narrow_allowed_mentions(requested if isinstance(requested, Mapping) else None, pingable)
        elif row.kind == "dm":
            channel_id = str(rest.create_dm(_required(p, "user_id"))["id"])
            message_embeds = _embed_list(p.get("embeds"))
            allowed = E.safe_allowed_mentions(pingable)
        else:
            raise PayloadError(f"unknown outbox kind {row.kind!r}")
        content = E.neutralise_mentions(str(p.get("content") or ""))[: E.CONTENT_MAX]
        safe_embeds = [E.sanitise_embed(e) for e in message_embeds][:10]
        safe_embeds = [e for e in safe_embeds if e]
        if not content and not safe_embeds:
            raise PayloadError("nothing to post: no content and no embed")
        rest.create_message(channel_id, embeds=safe_embeds, content=content or None,
                            nonce=nonce_for(row.guild_id, row.dedupe_key), enforce_nonce=True,
                            allowed_mentions=allowed)

    def _resolve_channel(self, conn: Connection, row: _Row, rest: DiscordRest) -> str:
        p = row.payload
        target = str(p.get("target") or "channel")
        channel_id = p.get("channel_id")
        if target in ("fixed", "channel") and channel_id:
            return str(channel_id)
        if target == "dm":
            return str(rest.create_dm(_required(p, "user_id"))["id"])
        from synapse.admin.settings import load

        settings = load(conn, row.guild_id)
        if target == "announcements":
            if channel_id:
                return str(channel_id)
            if settings.announcements_channel_id:
                return settings.announcements_channel_id
            raise PayloadError("no announcements channel: set announcements_channel_id in the guild settings")
        if target == "channel":
            if settings.levelup_mode == "fixed" and settings.levelup_channel_id:
                return settings.levelup_channel_id
            if settings.levelup_mode == "dm":
                return str(rest.create_dm(_required(p, "user_id"))["id"])
            if settings.announcements_channel_id:
                return settings.announcements_channel_id
            raise PayloadError("no channel to post in: the announcement has no channel_id and "
                               "announcements_channel_id is not set")
        raise PayloadError(f"unknown announce target {target!r}")

    def _send_webhook(self, conn: Connection, row: _Row) -> None:
        p = row.payload
        webhook_id = _snowflake(p.get("webhook_id"))
        if webhook_id is None:
            raise PayloadError("webhook_id is missing")
        hook = conn.execute(text("""
            SELECT url, secret, enabled FROM webhooks WHERE guild_id = :g AND webhook_id = :w"""),
            {"g": row.guild_id, "w": webhook_id}).first()
        if hook is None or not hook.enabled:
            raise _WebhookFailed(f"webhook {webhook_id} was deleted or disabled", permanent=True)
        body = json.dumps({"event": p.get("event"), "guild_id": str(row.guild_id), "id": row.dedupe_key,
                           "data": p.get("body")}, separators=(",", ":"), sort_keys=True)
        timestamp = str(int(self.clock.now().timestamp()))
        signature = hmac.new(str(hook.secret).encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "User-Agent": "Synapse-Webhooks/1",
                   "X-Synapse-Timestamp": timestamp, "X-Synapse-Signature": f"sha256={signature}",
                   "X-Synapse-Delivery": row.dedupe_key}
        http = self._http or httpx.Client(timeout=self._webhook_timeout, follow_redirects=False)
        try:
            response = http.post(str(hook.url), content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _WebhookFailed(f"webhook {webhook_id} unreachable: {type(exc).__name__}", permanent=False) from exc
        finally:
            if self._http is None:
                http.close()
        if response.status_code >= 300:
            permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
            raise _WebhookFailed(f"webhook {webhook_id} answered {response.status_code}", permanent=permanent)


class _WebhookFailed(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def _required(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if _snowflake(value) is None:
        raise PayloadError(f"{key} must be a snowflake, got {value!r}")
    return str(value)


def _embed_list(value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
        raise PayloadError("embeds must be a list of embed objects")
    return value


def _permanent(status: int) -> bool:
    """4xx will not get better by retrying; 401 (bad token) and 429 might, once fixed or waited."""
    return 400 <= status < 500 and status not in (401, 408, 429)


def _describe(exc: DiscordError) -> str:
    return exc.message


def _backoff(attempts: int) -> timedelta:
    seconds = BACKOFF_BASE.total_seconds() * 2 ** min(attempts, 10)
    return min(BACKOFF_MAX, timedelta(seconds=seconds))


def _log_no_credentials() -> None:
    global _no_credentials_logged
    with _log_lock:
        if _no_credentials_logged:
            return
        _no_credentials_logged = True
    log.warning("Discord credentials are not set (DISCORD_BOT_TOKEN, DISCORD_APPLICATION_ID): "
                "announcements and role changes stay pending in the outbox and are sent once they are set")


# -- entry-point helpers -----------------------------------------------------------------------

def rest_from_settings(settings: Any, **options: Any) -> DiscordRest | None:
    """The process's Discord client, or None without credentials."""
    if not settings.has_discord_credentials:
        return None
    return DiscordRest.from_settings(settings, **options)


def handle_message(body: bytes | str, *, announcer: Announcer) -> SendReport:
    """Decode one synapse-announce message and send its rows (EnvelopeError if malformed)."""
    guild_id, ids = decode_message(body)
    return announcer.send(ids, guild_id=guild_id)


_announcer_lock = threading.Lock()


def announcer_for(container: Any) -> Announcer:
    """The composition root's Announcer, built once (its DiscordRest keeps the learned rate-limit
    buckets between messages); None-safe without credentials."""
    with _announcer_lock:
        found: Announcer | None = getattr(container, "_synapse_announcer", None)
        if found is None:
            found = Announcer(container.engine, rest_from_settings(container.settings), clock=container.clock)
            container._synapse_announcer = found
        return found


__all__ = ["Announcer", "PayloadError", "SendReport", "announcer_for", "decode_message", "handle_message",
           "nonce_for", "rest_from_settings"]
