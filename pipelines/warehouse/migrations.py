"""Versioned schema migrations, the declared tables, and re-applied views.

`sql/migrations/NNNN_verb_object.sql` files are applied once each, in order, and recorded
in `ops.schema_migrations`. Then the mirrored tables follow their declarations
(`schema_sync.sync_tables` over `tables.TABLES`: new tables, columns, indexes, child
tables). Every file in `sql/views/` (one `CREATE OR REPLACE VIEW` each) and `sql/roles/`
is re-applied on every upgrade, so views follow the code. All in one transaction.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, text

from pipelines.declarations import load_declarations
from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.bi_views import apply_views
from pipelines.warehouse.schema_sync import sync_tables
from pipelines.warehouse.tables import TABLES

SQL_DIR = PROJECT_ROOT / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
VIEWS_DIR = SQL_DIR / "views"
ROLES_DIR = SQL_DIR / "roles"
# Serialises concurrent upgrades (two syncs starting at once) on one database.
UPGRADE_LOCK_KEY = 7_286_451_001


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def upgrade(engine: Engine) -> list[str]:
    """Apply pending migrations, sync the declared tables, create the declared BI views, then
    re-apply the hand-written views and the roles.

    Returns the names of the migrations applied (the table changes are logged).

    Raises:
        schema_sync.SchemaError: a declaration contradicts a stored column's type; the
            upgrade then changes nothing.
    """
    applied_now: list[str] = []
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS ops"))
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        done = set(conn.execute(text("SELECT name FROM ops.schema_migrations")).scalars())
        for path in migration_files():
            if path.name in done:
                continue
            _run_script(conn, path)
            conn.execute(
                text("INSERT INTO ops.schema_migrations (name) VALUES (:name)"),
                {"name": path.name},
            )
            applied_now.append(path.name)
        sync_tables(conn, TABLES.values())
        apply_views(conn, load_declarations().resources.values())
        for directory in (VIEWS_DIR, ROLES_DIR):
            for path in sorted(directory.glob("*.sql")):
                _run_script(conn, path)
    return applied_now


def _run_script(conn: Connection, path: Path) -> None:
    """Run a whole SQL file through the driver (multi-statement, dollar quoting intact)."""
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor:
        cursor.execute(path.read_text(encoding="utf-8").encode())
