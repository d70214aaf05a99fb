"""The runner's HTTP side: the Functions HTTP app (``/api/...``) and, once built, the dashboard at ``/``.

The dashboard build is looked up per request (a stat call), so a build that finishes
after the runner started is served without a restart.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from synapse.config import PROJECT_ROOT

DASHBOARD_BUILD = PROJECT_ROOT / "dashboard" / "build"
FALLBACKS = ("200.html", "index.html")  # SvelteKit adapter-static SPA fallbacks

NOT_BUILT = (b"<!doctype html><title>Synapse</title><p>The dashboard is not built yet "
             b"(<code>npm run --prefix dashboard build</code>). The API is at <a href=/api/docs>/api/docs</a>.")


def asgi_app(*, dashboard: Path = DASHBOARD_BUILD) -> Any:
    """``functions.http.lazy_asgi_app`` for ``/api``; static files with an SPA fallback for the rest."""
    from functions.http import lazy_asgi_app

    @functools.cache
    def static() -> Any:
        from starlette.staticfiles import StaticFiles

        return StaticFiles(directory=str(dashboard), html=True)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/api" or path.startswith("/api/"):
            await lazy_asgi_app(scope, receive, send)
            return
        fallback = next((name for name in FALLBACKS if (dashboard / name).is_file()), None)
        if fallback is None:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/html; charset=utf-8")]})
            await send({"type": "http.response.body", "body": NOT_BUILT})
            return
        root = dashboard.resolve()
        candidate = (dashboard / path.lstrip("/")).resolve()
        if candidate.is_relative_to(root):
            if candidate.is_file() or (candidate / "index.html").is_file():
                await static()(scope, receive, send)
                return
            if candidate.with_suffix(".html").is_file():
                await static()({**scope, "path": path + ".html"}, receive, send)
                return
        await static()({**scope, "path": "/" + fallback}, receive, send)

    return app
