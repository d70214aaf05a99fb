"""A bare ASGI app for ``POST /api/interactions`` alone: no FastAPI, no dashboard routers.

On a cold Functions instance the full HTTP app (FastAPI plus every dashboard
router) takes about a second to import and build, a third of Discord's 3-second
window. This app answers interactions with only what they need (PyNaCl, the
payload parser, then the dispatcher on first command). The HTTP entry point can
route ``/api/interactions`` here and everything else to the full app; both share
``endpoint.py``, so behaviour is identical.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from synapse.interactions import endpoint, verify

PATH = "/api/interactions"


async def _send_json(send: Any, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Serve ``POST /api/interactions``; 405 for other methods, 404 for other paths."""
    if scope["type"] != "http":
        return
    if scope.get("path") != PATH:
        await _send_json(send, *endpoint.problem(404, "not_found", "Not Found"))
        return
    if scope.get("method") != "POST":
        await _send_json(send, *endpoint.problem(405, "method_not_allowed", "Method Not Allowed"))
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    admitted = endpoint.admit(b"".join(chunks), signature=headers.get(verify.SIGNATURE_HEADER),
                              timestamp=headers.get(verify.TIMESTAMP_HEADER))
    if isinstance(admitted, tuple):
        await _send_json(send, *admitted)
        return
    await _send_json(send, 200, await asyncio.to_thread(endpoint.run, admitted))
