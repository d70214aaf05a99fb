"""The one HTTP app (FastAPI): slash-command interactions and the dashboard API, under ``/api``.

Routers are added by area; each is imported here, on the first request, never
at Functions import time.
"""

from __future__ import annotations

from fastapi import FastAPI

from synapse import __version__
from synapse.api import errors


def create_app() -> FastAPI:
    app = FastAPI(title="Synapse API", version=__version__, openapi_url="/api/openapi.json",
                  docs_url="/api/docs", redoc_url=None)
    errors.install(app)
    from synapse.interactions.router import router as interactions_router  # issue 5: first, the hot path
    app.include_router(interactions_router)

    @app.get("/api/health", tags=["ops"], summary="Liveness: the app answers")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    # Dashboard API (issue 7): public, auth, admin and integration routers; CORS for the dashboard.
    from synapse.api import routes
    from synapse.bootstrap import container

    routes.install(app, container().settings)

    return app
