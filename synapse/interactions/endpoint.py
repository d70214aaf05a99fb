"""The framework-free front of the interactions endpoint: bytes and headers in, status and JSON out.

Shared by the FastAPI route (``router.py``) and the bare ASGI app (``asgi.py``), so
both check the same things in the same order: signature and its age on the raw
bytes (401), then JSON (400), then PING → PONG. A verified ``{"type": 1}`` gets
PONG whatever else the body holds or lacks, as Discord's endpoint check and its
reference libraries expect; only what is dispatched is parsed strictly (400).
Anything else is an :class:`~synapse.interactions.models.Interaction` to dispatch.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from synapse.errors import ValidationFailed
from synapse.interactions import verify
from synapse.interactions.models import Interaction, InteractionType, parse
from synapse.interactions.responses import pong

log = logging.getLogger("synapse.interactions")

Answer = tuple[int, dict[str, Any]]

STARTING = {"type": 4, "data": {"content": "Synapse is starting up; try again in a moment.", "flags": 64,
                                "allowed_mentions": {"parse": []}}}


def problem(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> Answer:
    return status, {"error": {"code": code, "message": message, "details": details or []}}


def public_key() -> str:
    """The configured key; "" (every request refused) if settings cannot load."""
    from synapse.bootstrap import container

    try:
        return container().settings.discord_public_key
    except Exception:
        log.exception("interactions: settings unavailable; refusing requests")
        return ""


def now() -> float:
    """The container's clock as Unix seconds (the replay window's reference); the system clock
    if the container cannot be built (the key is then "" and every request is refused anyway)."""
    from synapse.bootstrap import container

    try:
        return container().clock.now().timestamp()
    except Exception:
        return time.time()


def is_ping(raw: object) -> bool:
    """A PING by its type alone: ``{"type": 1, …}`` whatever else it holds or lacks."""
    if not isinstance(raw, dict):
        return False
    kind = raw.get("type")
    return isinstance(kind, int) and not isinstance(kind, bool) and kind == InteractionType.PING


def admit(body: bytes, *, signature: str | None, timestamp: str | None) -> Answer | Interaction:
    """An immediate answer (401, 400, PONG), or the verified interaction to dispatch."""
    if not verify.is_valid(public_key_hex=public_key(), signature_hex=signature, timestamp=timestamp, body=body,
                           now=now()):
        return problem(401, "unauthorized", "invalid request signature")
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return problem(400, "bad_request", "the body is not JSON")
    if is_ping(raw):
        return 200, pong()
    try:
        return parse(raw)
    except ValidationFailed as exc:
        return problem(400, "bad_request", "not a Discord interaction", exc.details())


def run(interaction: Interaction) -> dict[str, Any]:
    """Dispatch a verified interaction (blocking: call it from a worker thread)."""
    from synapse.interactions.context import current
    from synapse.interactions.dispatch import dispatch

    try:
        ctx = current()
    except Exception:
        log.exception("interactions: cannot build the context")
        return STARTING
    return dispatch(ctx, interaction)
