"""`db upgrade` derives the mirrored tables from the declarations, and for the five tables
migration 0001 created it changes nothing: their columns, indexes and constraints (and
their history tables') are exactly what 0001 alone made. The declared opt-in tables and
child tables exist after it, and a second upgrade changes nothing."""

import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from pipelines.warehouse.engine import make_engine, to_libpq_url
from pipelines.warehouse.migrations import MIGRATIONS_DIR, upgrade
from pipelines.warehouse.schema_sync import sync_tables
from pipelines.warehouse.tables import TABLES

BUILT_IN = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")

# Per table: every column (name, position, type, not null, default), index (definition,
# its name included) and constraint (name, definition).
CATALOG = """
SELECT 'column', c.relname, a.attnum::text || ' ' || a.attname || ' '
       || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
       || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = 'tampuuri' AND c.relname = ANY(:tables)
UNION ALL
SELECT 'index', c.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'tampuuri' AND c.relname = ANY(:tables)
UNION ALL
SELECT 'constraint', c.relname, k.conname || ' ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'tampuuri' AND c.relname = ANY(:tables)
ORDER BY 1, 2, 3
"""


@pytest.fixture
def fresh_url(pg_server_url):
    """An empty database (no migration applied), dropped afterwards."""
    name = f"tsync_fresh_{uuid.uuid4().hex[:12]}"
    libpq = to_libpq_url(pg_server_url)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def catalog(engine):
    tables = [*BUILT_IN, *(f"{t}_history" for t in BUILT_IN)]
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(CATALOG), {"tables": tables})]


def test_upgrade_leaves_the_0001_tables_as_0001_made_them(engine, fresh_url):
    """`engine`: a database upgraded from nothing (the test template, upgraded once);
    `fresh_url`: one where 0001 alone ran."""
    only_0001 = make_engine(fresh_url, pool_size=1)
    try:
        with only_0001.begin() as conn:
            script = (MIGRATIONS_DIR / "0001_create_schemas.sql").read_text(encoding="utf-8")
            conn.connection.driver_connection.execute(script.encode())
        expected = catalog(only_0001)
        # And the sync on 0001's tables alone: nothing to do.
        with only_0001.begin() as conn:
            assert sync_tables(conn, [TABLES[t] for t in BUILT_IN]) == []
        assert catalog(only_0001) == expected
    finally:
        only_0001.dispose()
    kinds = [row[0] for row in expected]
    # Primary keys, the two history indexes each, 0001's four (account, ...) indexes.
    assert kinds.count("index") == 5 + 5 * 2 + 4
    # Typed columns, 9 common ones, 8 in each history table.
    assert kinds.count("column") == sum(len(TABLES[t].columns) + 9 + 8 for t in BUILT_IN)
    assert catalog(engine) == expected


def test_upgrade_from_nothing_makes_every_declared_table_and_repeats_as_a_no_op(fresh_url):
    engine = make_engine(fresh_url, pool_size=1)
    try:
        assert upgrade(engine)  # every migration applied
        declared = {t for spec in TABLES.values() for t in (spec.name, spec.history)}
        declared |= {child.name for spec in TABLES.values() for child in spec.children}
        with engine.connect() as conn:
            found = set(
                conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'tampuuri'")
                ).scalars()
            )
        assert found == declared
        assert any(spec.children for spec in TABLES.values())  # a child table among them
        before = catalog(engine)
        assert upgrade(engine) == []
        with engine.begin() as conn:
            assert sync_tables(conn, TABLES.values()) == []
        assert catalog(engine) == before
    finally:
        engine.dispose()
