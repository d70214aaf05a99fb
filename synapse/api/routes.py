"""The dashboard API's routers and CORS, added to the app in one call from ``create_app``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from synapse.config import Settings


def install(app: FastAPI, cfg: Settings) -> None:
    from synapse.api import (
        admin_config,
        admin_ledger,
        admin_levels,
        admin_members,
        admin_ops,
        admin_rules,
        admin_setup,
        auth,
        integration,
        public,
    )

    app.add_middleware(
        CORSMiddleware,
        allow_origins=[cfg.dashboard_origin.rstrip("/")],
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
        max_age=600,
    )
    app.include_router(auth.build_router(cfg))
    app.include_router(public.router)
    app.include_router(integration.router)
    app.include_router(admin_levels.router)   # before admin_config: /settings/placeholders
    app.include_router(admin_config.router)
    app.include_router(admin_ledger.router)
    app.include_router(admin_rules.router)
    app.include_router(admin_ops.router)
    app.include_router(admin_setup.router)
    app.include_router(admin_members.router)
