"""The HTTP app behind the Functions HTTP trigger, imported on first use.

``AsgiFunctionApp`` needs an ASGI callable at import time; this one defers
importing FastAPI and Synapse until the first request, keeping cold starts cheap.
The local runner serves the very same callable. ``/api/interactions`` goes to a bare
ASGI app of its own (same checks and handlers) so a cold instance answers Discord fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_app: Any = None


def _load() -> Any:
    global _app
    if _app is None:
        _app = importlib.import_module("synapse.api.app").create_app()
    return _app


async def lazy_asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        # The Functions host does not send lifespan events; answer them for local servers.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http" and scope.get("path") == "/api/interactions":
        # Discord waits 3 s: slash commands skip FastAPI and the dashboard routers entirely.
        from synapse.interactions.asgi import app as interactions

        await interactions(scope, receive, send)
        return
    await _load()(scope, receive, send)
