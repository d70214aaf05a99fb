"""Alembic, driven from code: migrate an engine's database to a revision (``synapse db upgrade``, tests, benches)."""

from __future__ import annotations

from sqlalchemy import Engine

from synapse.config import PROJECT_ROOT


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "synapse/db/migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
