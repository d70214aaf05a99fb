"""The postprovision grants, run against the real test PostgreSQL (the Entra parts cannot run here).

``pgaadauth_create_principal_with_oid`` exists only on Azure, so the role is
created with CREATE ROLE; the GRANT statements are exactly the hook's.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Iterator
from types import ModuleType

import pytest
import sqlalchemy as sa
from psycopg import sql

from tests.infra.bicep import INFRA

pytestmark = pytest.mark.integration


def db_setup() -> ModuleType:
    spec = importlib.util.spec_from_file_location("db_setup", INFRA / "hooks" / "db_setup.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app_role(engine: sa.Engine) -> Iterator[str]:
    role = f"id-api-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" NOLOGIN')
    yield role
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        conn.exec_driver_sql(f'DROP ROLE "{role}"')


def run_grants(engine: sa.Engine, role: str) -> str:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT current_user, current_database()")
        admin, database = cur.fetchone()
        for template, names in db_setup().grant_statements(role, admin, database):
            cur.execute(sql.SQL(template).format(*(sql.Identifier(n) for n in names)))
        raw.commit()
        return str(admin)
    finally:
        raw.close()


def test_app_role_gets_data_access_on_every_migrated_table(engine: sa.Engine, app_role: str) -> None:
    """After the hook's grants the api role can read and write every table and use every sequence."""
    run_grants(engine, app_role)
    with engine.connect() as conn:
        tables = conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        assert tables
        lacking = conn.execute(sa.text("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
              AND NOT (has_table_privilege(:role, c.oid, 'SELECT') AND has_table_privilege(:role, c.oid, 'INSERT')
                       AND has_table_privilege(:role, c.oid, 'UPDATE') AND has_table_privilege(:role, c.oid, 'DELETE'))
        """), {"role": app_role}).scalars().all()
        assert lacking == []
        sequences = conn.execute(sa.text("""
            SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'S'
              AND NOT CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(:role, c.oid, 'USAGE') ELSE true END
        """), {"role": app_role}).scalars().all()
        assert sequences == []


def test_tables_created_by_later_migrations_are_granted_too(engine: sa.Engine, app_role: str) -> None:
    """Default privileges: a table the administrator creates later is usable by the api role."""
    run_grants(engine, app_role)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE later_migration_table (id bigserial PRIMARY KEY, v int)")
    with engine.begin() as conn:
        conn.exec_driver_sql(f'SET LOCAL ROLE "{app_role}"')
        conn.exec_driver_sql("INSERT INTO later_migration_table (v) VALUES (1)")
        assert conn.exec_driver_sql("SELECT count(*) FROM later_migration_table").scalar() == 1


def test_app_role_cannot_change_the_schema(engine: sa.Engine, app_role: str) -> None:
    """Least privilege: the api role cannot drop or alter tables (only migrations can)."""
    run_grants(engine, app_role)
    with engine.begin() as conn:
        table = conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' LIMIT 1")).scalar_one()
    with pytest.raises(sa.exc.ProgrammingError), engine.begin() as conn:
        conn.exec_driver_sql(f'SET LOCAL ROLE "{app_role}"')
        conn.exec_driver_sql(f'DROP TABLE "{table}"')
