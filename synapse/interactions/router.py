"""``POST /api/interactions`` in the FastAPI app: Discord's HTTP interactions endpoint.

Order matters and lives in ``endpoint.admit``: the signature is checked on the raw
bytes before anything is parsed (401 for a missing or bad one, PING included:
Discord probes with bad signatures and drops endpoints that accept them); then
the body is parsed (400 if it is not an interaction); then PING gets PONG and
everything else is dispatched in a worker thread (handlers use the synchronous
database driver). No path here answers 500: handler failures become ephemeral replies.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from synapse.interactions import endpoint, verify

router = APIRouter(tags=["interactions"])


@router.post("/api/interactions", summary="Discord interactions endpoint (Ed25519-signed)",
             responses={401: {"description": "missing or bad signature"},
                        400: {"description": "not an interaction"}})
async def interactions(request: Request) -> Response:
    admitted = endpoint.admit(await request.body(), signature=request.headers.get(verify.SIGNATURE_HEADER),
                              timestamp=request.headers.get(verify.TIMESTAMP_HEADER))
    if isinstance(admitted, tuple):
        status, body = admitted
        return JSONResponse(body, status_code=status)
    return JSONResponse(await run_in_threadpool(endpoint.run, admitted))
