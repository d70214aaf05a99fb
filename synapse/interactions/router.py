"""``POST /api/interactions``: Discord's HTTP interactions endpoint.

Order matters: the signature is checked on the raw bytes before anything is
parsed (401 for a missing or bad one, PING included: Discord probes with bad
signatures and drops endpoints that accept them); then the body is parsed
(400 if it is not an interaction); then PING gets PONG and everything else is
dispatched in a worker thread (handlers use the synchronous database driver).
No path here answers 500: handler failures become ephemeral replies.
"""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from synapse.errors import ValidationFailed
from synapse.interactions import verify
from synapse.interactions.models import InteractionType, parse
from synapse.interactions.responses import pong

log = logging.getLogger(__name__)

router = APIRouter(tags=["interactions"])

_PONG = json.dumps(pong()).encode()


def _problem(status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "details": details or []}},
                        status_code=status)


def _public_key() -> str:
    """The configured key; "" (every request refused) if settings cannot load."""
    from synapse.bootstrap import container

    try:
        return container().settings.discord_public_key
    except Exception:
        log.exception("interactions: settings unavailable; refusing requests")
        return ""


@router.post("/api/interactions", summary="Discord interactions endpoint (Ed25519-signed)",
             responses={401: {"description": "missing or bad signature"},
                        400: {"description": "not an interaction"}})
async def interactions(request: Request) -> Response:
    body = await request.body()
    if not verify.is_valid(public_key_hex=_public_key(),
                           signature_hex=request.headers.get(verify.SIGNATURE_HEADER),
                           timestamp=request.headers.get(verify.TIMESTAMP_HEADER), body=body):
        return _problem(401, "unauthorized", "invalid request signature")
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _problem(400, "bad_request", "the body is not JSON")
    try:
        interaction = parse(raw)
    except ValidationFailed as exc:
        return _problem(400, "bad_request", "not a Discord interaction", exc.details())
    if interaction.type is InteractionType.PING:
        return Response(_PONG, media_type="application/json")
    from synapse.interactions.context import current
    from synapse.interactions.dispatch import dispatch

    try:
        ctx = current()
    except Exception:
        log.exception("interactions: cannot build the context")
        return JSONResponse({"type": 4, "data": {"content": "Synapse is starting up; try again in a moment.",
                                                 "flags": 64, "allowed_mentions": {"parse": []}}})
    return JSONResponse(await run_in_threadpool(dispatch, ctx, interaction))
