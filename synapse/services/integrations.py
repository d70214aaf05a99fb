"""Integrations for other bots: read-only API tokens and signed outbound webhooks. Audited.

**API tokens** (``syn_…``, 43 random characters) are shown once, at creation; only their
SHA-256 is stored (``api_tokens.token_hash``), so a database leak does not leak tokens.
They read levels, balances and milestones of one guild (``/api/guilds/{g}/integration/…``),
like AmariBot's and Tatsu's APIs, and can do nothing else.

**Webhooks** subscribe a URL to events (``level_up``, ``milestone_earned``, ``season.closed``).
Each delivery is an outbox row of kind ``webhook`` written in the transaction of the change
(``enqueue_webhooks``) and sent after commit by the announce worker, with retries and backoff,
signed ``X-Synapse-Signature: sha256=HMAC(secret, "{timestamp}.{body}")`` (see
``synapse/discord/README.md``). The secret is shown once, at creation.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, text

from synapse.admin.audit import Actor, record
from synapse.errors import ErrorDetail, NotFound, ValidationFailed

TOKEN_PREFIX = "syn_"
WEBHOOK_EVENTS = ("level_up", "milestone_earned", "season.closed")
MAX_TOKENS = 25
MAX_WEBHOOKS = 10


def _hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, guild_id: int, *, name: str, actor: Actor) -> tuple[dict[str, Any], str]:
    """A new token: its listing row and the token itself (the only time it is ever returned)."""
    name = name.strip()
    if not 1 <= len(name) <= 60:
        raise ValidationFailed("invalid token", [ErrorDetail("name", "1..60 characters")])
    live = conn.execute(text("SELECT COUNT(*) FROM api_tokens WHERE guild_id = :g AND revoked_at IS NULL"),
                        {"g": guild_id}).scalar_one()
    if live >= MAX_TOKENS:
        raise ValidationFailed("too many tokens", [ErrorDetail("name", f"at most {MAX_TOKENS}; revoke one")])
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = conn.execute(text("""
        INSERT INTO api_tokens (guild_id, name, token_hash, created_by) VALUES (:g, :n, :h, :by)
        RETURNING token_id, name, created_at, last_used_at, revoked_at"""),
        {"g": guild_id, "n": name, "h": _hash(token), "by": actor.id}).one()
    out = _token_row(row)
    record(conn, guild_id=guild_id, actor=actor, action="api_token.create", entity_type="api_token",
           entity_id=row.token_id, after=out)
    return out, token


def _token_row(r: Any) -> dict[str, Any]:
    return {"token_id": int(r.token_id), "name": r.name, "created_at": r.created_at,
            "last_used_at": r.last_used_at, "revoked_at": r.revoked_at}


def list_tokens(conn: Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("""SELECT token_id, name, created_at, last_used_at, revoked_at FROM api_tokens
                                 WHERE guild_id = :g ORDER BY token_id"""), {"g": guild_id})
    return [_token_row(r) for r in rows]


def revoke_token(conn: Connection, guild_id: int, token_id: int, *, actor: Actor, at: datetime) -> None:
    row = conn.execute(text("""UPDATE api_tokens SET revoked_at = :at
                                WHERE guild_id = :g AND token_id = :t AND revoked_at IS NULL
                                RETURNING token_id, name"""), {"g": guild_id, "t": token_id, "at": at}).first()
    if row is None:
        raise NotFound(f"no live API token {token_id}")
    record(conn, guild_id=guild_id, actor=actor, action="api_token.revoke", entity_type="api_token",
           entity_id=token_id, before={"name": row.name, "revoked": False}, after={"revoked": True})


def touch_token(conn: Connection, guild_id: int, token_id: int, at: datetime) -> None:
    conn.execute(text("UPDATE api_tokens SET last_used_at = :at WHERE guild_id = :g AND token_id = :t"),
                 {"g": guild_id, "t": token_id, "at": at})


# ---------------------------------------------------------------- webhooks

def _check_webhook(url: str, events: list[str]) -> list[str]:
    problems = []
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > 500:
        problems.append(ErrorDetail("url", "an http(s) URL of at most 500 characters"))
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown or not events:
        problems.append(ErrorDetail("events", f"one or more of {', '.join(WEBHOOK_EVENTS)}"))
    if problems:
        raise ValidationFailed("invalid webhook", problems)
    return sorted(set(events))


def create_webhook(conn: Connection, guild_id: int, *, url: str, events: list[str],
                   actor: Actor) -> tuple[dict[str, Any], str]:
    events = _check_webhook(url, events)
    count = conn.execute(text("SELECT COUNT(*) FROM webhooks WHERE guild_id = :g"), {"g": guild_id}).scalar_one()
    if count >= MAX_WEBHOOKS:
        raise ValidationFailed("too many webhooks", [ErrorDetail("url", f"at most {MAX_WEBHOOKS}")])
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = conn.execute(text("""
        INSERT INTO webhooks (guild_id, url, secret, events) VALUES (:g, :u, :s, :e)
        RETURNING webhook_id, url, events, enabled, created_at"""),
        {"g": guild_id, "u": url, "s": secret, "e": events}).one()
    out = _webhook_row(row)
    record(conn, guild_id=guild_id, actor=actor, action="webhook.create", entity_type="webhook",
           entity_id=row.webhook_id, after=out)
    return out, secret


def _webhook_row(r: Any) -> dict[str, Any]:
    return {"webhook_id": int(r.webhook_id), "url": r.url, "events": list(r.events), "enabled": r.enabled,
            "created_at": r.created_at}


def list_webhooks(conn: Connection, guild_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(text("SELECT webhook_id, url, events, enabled, created_at FROM webhooks "
                             "WHERE guild_id = :g ORDER BY webhook_id"), {"g": guild_id})
    return [_webhook_row(r) for r in rows]


def delete_webhook(conn: Connection, guild_id: int, webhook_id: int, *, actor: Actor) -> None:
    row = conn.execute(text("""DELETE FROM webhooks WHERE guild_id = :g AND webhook_id = :w
                                RETURNING webhook_id, url, events, enabled, created_at"""),
                       {"g": guild_id, "w": webhook_id}).first()
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    record(conn, guild_id=guild_id, actor=actor, action="webhook.delete", entity_type="webhook",
           entity_id=webhook_id, before=_webhook_row(row))


def enqueue_webhooks(conn: Connection, guild_id: int, event: str, dedupe: str, body: dict[str, Any]) -> list[int]:
    """Outbox rows (kind ``webhook``) for every enabled webhook subscribed to ``event``; returns their ids.

    Call it inside the transaction that made the change; ``dedupe`` makes a replay write nothing twice.
    The announce worker signs and sends them after commit (retries with backoff).
    """
    ids = []
    for hook in conn.execute(text("SELECT webhook_id FROM webhooks WHERE guild_id = :g AND enabled "
                                  "AND :e = ANY(events)"), {"g": guild_id, "e": event}):
        payload = {"webhook_id": int(hook.webhook_id), "event": event,
                   "body": {"event": event, "guild_id": str(guild_id), "data": body}}
        row = conn.execute(text("""
            INSERT INTO outbox (guild_id, kind, dedupe_key, payload) VALUES (:g, 'webhook', :d, CAST(:p AS jsonb))
            ON CONFLICT (guild_id, dedupe_key) DO NOTHING RETURNING id"""),
            {"g": guild_id, "d": f"webhook:{hook.webhook_id}:{event}:{dedupe}", "p": json.dumps(payload)}).first()
        if row is not None:
            ids.append(int(row.id))
    return ids
