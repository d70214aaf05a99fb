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


def test_member_totals_migration_counts_the_lake_it_finds(pg_template: str) -> None:
    """Upgrading a database that already holds events (0016 → 0017) fills ``member_event_totals`` from them,
    as the triggers would have; events written after the upgrade are counted by the triggers."""
    from uuid import uuid4

    from synapse.db.engine import make_engine
    from synapse.db.migrate import upgrade
    from tests.pipeline.ledger_view import member_totals, member_totals_of_lake
    from tests.support import services

    name = f"t_{uuid4().hex[:16]}"
    admin = services.admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine = make_engine(services.server_url(name), pool_size=1)
    insert = sa.text("""
        INSERT INTO event_lake (guild_id, source_system, source_event_id, event_type, user_id, occurred_at, payload)
        SELECT 5, 'synapse', :k || i, CASE WHEN i % 3 = 0 THEN 'voice_tick' ELSE 'message_create' END,
               CASE WHEN i % 7 = 0 THEN NULL ELSE i % 4 END, now(),
               CASE WHEN i % 2 = 0 THEN jsonb_build_object('minutes', i % 5) ELSE '{}'::jsonb END
          FROM generate_series(1, 300) AS i""")
    try:
        upgrade(engine, "0016")
        with engine.begin() as conn:
            conn.execute(insert, {"k": "before:"})
        upgrade(engine)
        backfilled = member_totals(engine)
        assert backfilled and backfilled == member_totals_of_lake(engine)
        with engine.begin() as conn:
            conn.execute(insert, {"k": "after:"})
        assert member_totals(engine) == member_totals_of_lake(engine) != backfilled
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_role_history_migration_starts_each_cached_member_with_the_cached_roles(pg_template: str) -> None:
    """0017 → 0018: each cached member's roles (sorted, no repeats) become their history from the beginning."""
    from uuid import uuid4

    from synapse.db.engine import make_engine
    from synapse.db.migrate import upgrade
    from tests.support import services

    name = f"t_{uuid4().hex[:16]}"
    admin = services.admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine = make_engine(services.server_url(name), pool_size=1)
    try:
        upgrade(engine, "0017")
        with engine.begin() as conn:
            conn.execute(sa.text("""
                INSERT INTO member_cache (guild_id, user_id, display_name, roles)
                VALUES (5, 1, 'ada', '{9,3,9}'), (5, 2, 'bob', '{}'), (6, 1, 'ada', '{4}')"""))
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(sa.text("""
                SELECT guild_id, user_id, since = '-infinity' AS from_the_beginning, roles
                  FROM member_role_history ORDER BY 1, 2""")).all()
        assert [tuple(r) for r in rows] == [(5, 1, True, [3, 9]), (5, 2, True, []), (6, 1, True, [4])]
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
