"""The HTTP app behind the Functions HTTP trigger, imported on first use.

``AsgiFunctionApp`` needs an ASGI callable at import time; this one defers
importing FastAPI and Synapse until the first request, keeping cold starts cheap.
The local runner serves the very same callable.
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
    await _load()(scope, receive, send)
