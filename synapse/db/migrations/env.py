"""Alembic environment: migrates the connection handed in by ``synapse db upgrade`` (or the configured URL)."""

from __future__ import annotations

from alembic import context

from synapse.db.models import Base

target_metadata = Base.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from synapse.config import get_settings
        from synapse.db.engine import make_engine, resolve_database_url

        engine = make_engine(resolve_database_url(get_settings()))
        with engine.begin() as conn:
            context.configure(connection=conn, target_metadata=target_metadata)
            context.run_migrations()
        return
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


run()
