"""The schema can be distributed by guild: every tenant table keys on guild_id."""

import sqlalchemy as sa

# Tables that are not per guild (none today besides the migration bookkeeping).
GLOBAL_TABLES = {"alembic_version"}


def test_every_table_has_guild_id_in_every_key(engine: sa.Engine) -> None:
    """Each table carries guild_id, and its primary key and every unique index start with or include it."""
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))} - GLOBAL_TABLES
        with_guild = {r[0] for r in conn.execute(sa.text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'guild_id'"))}
        keys = conn.execute(sa.text("""
            SELECT t.relname AS table_name, i.relname AS index_name,
                   ARRAY(SELECT a.attname FROM pg_attribute a
                          WHERE a.attrelid = t.oid AND a.attnum = ANY(ix.indkey)) AS columns
              FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'public' AND (ix.indisunique OR ix.indisprimary)""")).all()
    assert tables, "no tables found"
    assert tables <= with_guild, f"tables without guild_id: {sorted(tables - with_guild)}"
    offenders = [(k.table_name, k.index_name) for k in keys
                 if k.table_name not in GLOBAL_TABLES and "guild_id" not in k.columns]
    assert not offenders, f"unique keys without guild_id: {offenders}"
