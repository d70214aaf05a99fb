"""The runner's HTTP side: the Functions HTTP app (``/api/...``) and, if built, the dashboard at ``/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synapse.config import PROJECT_ROOT

DASHBOARD_BUILD = PROJECT_ROOT / "dashboard" / "build"


def asgi_app(*, dashboard: Path | None = DASHBOARD_BUILD) -> Any:
    """``functions.http.lazy_asgi_app`` for the API; static files (SPA fallback) for everything else."""
    from functions.http import lazy_asgi_app

    if dashboard is None or (not (dashboard / "index.html").exists() and not (dashboard / "200.html").exists()):
        return lazy_asgi_app
    from starlette.staticfiles import StaticFiles

    static = StaticFiles(directory=str(dashboard), html=True)
    fallback = next((p for p in ("200.html", "index.html") if (dashboard / p).exists()), "index.html")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/api" or path.startswith("/api/"):
            await lazy_asgi_app(scope, receive, send)
            return
        candidate = (dashboard / path.lstrip("/")).resolve()
        inside = str(candidate).startswith(str(dashboard.resolve()))
        if inside and (candidate.is_file() or (candidate / "index.html").is_file()
                       or candidate.with_suffix(".html").is_file()):
            if candidate.with_suffix(".html").is_file() and not candidate.exists():
                scope = {**scope, "path": path + ".html"}
            await static(scope, receive, send)
            return
        await static({**scope, "path": "/" + fallback}, receive, send)

    return app
