"""The mirrored tables' DDL derived from their TableSpecs, applied at `db upgrade`.

`sync_tables(conn, specs)` runs in the upgrade's transaction, after the numbered
migrations and before the views: for every spec it creates what is missing (the table
with the common columns as migration 0001 has them, its history table and indexes, the
declared indexes, the child tables) and adds typed columns declared since, filled from
the rows' stored `data` with the loader's own extraction (tables.typed_expression), so
a field the API started sending becomes a column without a re-sync. It never drops or
retypes anything: a column whose type differs from its declaration stops the upgrade
(SchemaError), a column no longer declared stays. A declared index that exists on the
same columns under another name (0001's `kohteet_scope_idx`) is not made again. For
tables that already match their specs it changes nothing. SQL templates: sql/schema/.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from psycopg import sql
from sqlalchemy import Connection

from pipelines.settings import PROJECT_ROOT, ConfigError
from pipelines.warehouse.children import element_value
from pipelines.warehouse.tables import CAST_FUNCTIONS, Column, TableSpec, typed_expression

SQL_DIR = PROJECT_ROOT / "sql" / "schema"
SCHEMA = "tampuuri"
# PostgreSQL cuts longer identifiers silently (two long names could meet as one).
_MAX_IDENTIFIER = 63
_TABLE_COLUMNS = frozenset(
    {"account", "id", "data", "row_hash", "first_seen_at", "synced_at", "changed_at"}
    | {"deleted_at", "missing_since"}
)
_CHILD_COLUMNS = frozenset({"account", "parent_id", "ordinal", "data"})
_ALIAS = "t"
log = logging.getLogger(__name__)

ChangeKind = Literal["create_table", "create_history", "add_column", "create_index"]


class SchemaError(ConfigError):
    """A declaration the warehouse cannot follow without dropping or retyping a column."""


@dataclass(frozen=True)
class SchemaChange:
    """One change `sync_tables` made: a table, history table, column or index created.

    Attributes:
        kind: what was made.
        table: the table it was made in (or the table made).
        name: the column or index (the table's name for a table).
        backfilled: for an added column, how many stored rows it was filled in.
    """

    kind: ChangeKind
    table: str
    name: str
    backfilled: int | None = None

    def __str__(self) -> str:
        if self.kind == "add_column":
            return (
                f"tampuuri.{self.table}: column {self.name} added, filled in"
                f" {self.backfilled} stored row(s) from data"
            )
        what = {"create_table": "table", "create_history": "history table"}.get(self.kind)
        if what:
            return f"tampuuri.{self.name}: {what} created"
        return f"tampuuri.{self.table}: index {self.name} created"


@dataclass(frozen=True)
class _Table:
    """A table to make or evolve: a mirrored table or a child table."""

    name: str
    columns: tuple[Column, ...]
    reserved: frozenset[str]
    template: str  # create_table or create_child
    value: Any  # how a column is extracted from the row (for the backfill)
    history: str | None = None
    indexes: tuple[tuple[str, ...], ...] = ()


def _template(name: str) -> sql.SQL:
    return sql.SQL((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def _tables(specs: Iterable[TableSpec]) -> list[_Table]:
    tables: list[_Table] = []
    for spec in specs:
        tables.append(
            _Table(
                spec.name,
                spec.columns,
                _TABLE_COLUMNS,
                "create_table",
                typed_expression,
                spec.history,
                spec.indexes,
            )
        )
        for child in spec.children:
            tables.append(
                _Table(child.name, child.columns, _CHILD_COLUMNS, "create_child", element_value)
            )
    return tables


def _check(tables: Sequence[_Table]) -> None:
    """Names and types that are not the warehouse's to use, before anything is made."""
    problems: list[str] = []
    names = [t.name for t in tables] + [t.history for t in tables if t.history]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(f"tampuuri.{name}: declared twice")
    for table in tables:
        declared = [c.name for c in table.columns]
        for name in sorted({n for n in declared if declared.count(n) > 1}):
            problems.append(f"tampuuri.{table.name}: column {name} declared twice")
        for column in table.columns:
            if column.name in table.reserved:
                problems.append(
                    f"tampuuri.{table.name}: column {column.name} is one of the table's own"
                    f" columns ({', '.join(sorted(table.reserved))}): declare another name"
                )
            if column.sql_type not in CAST_FUNCTIONS:
                problems.append(
                    f"tampuuri.{table.name}: column {column.name}: type {column.sql_type!r}"
                    f" is none of {', '.join(CAST_FUNCTIONS)}"
                )
        for index in table.indexes:
            unknown = [c for c in index if c not in declared]
            if unknown or not index:
                problems.append(
                    f"tampuuri.{table.name}: index {list(index)}: not typed columns:"
                    f" {unknown or 'empty'}"
                )
        for name in [table.name, *(_index_names(table))]:
            if len(name.encode()) > _MAX_IDENTIFIER:
                problems.append(
                    f"tampuuri.{table.name}: the name {name} is longer than PostgreSQL's"
                    f" {_MAX_IDENTIFIER} bytes: declare a shorter table or column name"
                )
    if problems:
        raise SchemaError("; ".join(problems))


def _index_names(table: _Table) -> list[str]:
    names = [f"{table.history}_key_idx", f"{table.history}_open_idx"] if table.history else []
    return names + [_index_name(table.name, index) for index in table.indexes]


def _index_name(table: str, columns: Sequence[str]) -> str:
    return f"{table}_{'_'.join(columns)}_idx"


class _Catalog:
    """What the database holds of the tables: columns with their types, index keys."""

    def __init__(self, cursor: Any, tables: Sequence[_Table]) -> None:
        names = [t.name for t in tables] + [t.history for t in tables if t.history]
        params = {"schema": SCHEMA, "tables": names}
        self.columns: dict[str, dict[str, tuple[int, str]]] = {}
        cursor.execute(_template("columns"), params)
        for table, column, type_oid, type_name in cursor.fetchall():
            self.columns.setdefault(table, {})[column] = (type_oid, type_name)
        self.indexes: dict[str, set[tuple[str, ...]]] = {}
        cursor.execute(_template("indexes"), params)
        for table, columns in cursor.fetchall():
            self.indexes.setdefault(table, set()).add(tuple(columns))
        declared = sorted({c.sql_type for t in tables for c in t.columns})
        cursor.execute(_template("types"), {"types": declared})
        self.types: dict[str, tuple[int, str]] = {
            name: (oid, formatted) for name, oid, formatted in cursor.fetchall()
        }


def _conflicts(tables: Sequence[_Table], catalog: _Catalog) -> None:
    """Every stored column whose type is not the declared one: the upgrade stops."""
    problems: list[str] = []
    for table in tables:
        stored = catalog.columns.get(table.name, {})
        for column in table.columns:
            if column.name not in stored:
                continue
            stored_oid, stored_name = stored[column.name]
            declared_oid, declared_name = catalog.types[column.sql_type]
            if stored_oid != declared_oid:
                problems.append(
                    f"tampuuri.{table.name}.{column.name} is {stored_name} in the warehouse but"
                    f" declared {declared_name}: change the declaration back to {stored_name},"
                    " or rename the column in the declaration; the product never drops or"
                    " retypes a column"
                )
    if problems:
        raise SchemaError("; ".join(problems))


def sync_tables(conn: Connection, specs: Iterable[TableSpec]) -> list[SchemaChange]:
    """Create and evolve the tables of `specs` in schema tampuuri, in the caller's
    transaction; returns what was changed (nothing when all match).

    Raises:
        SchemaError: a stored column's type differs from its declaration (naming table,
            column, both types and what to do), or a declaration names what the warehouse
            cannot make (a common column's name, an unknown type, an index on an
            undeclared column, a name beyond 63 bytes). Nothing is changed then.
    """
    tables = _tables(specs)
    _check(tables)
    raw = conn.connection.driver_connection
    assert raw is not None
    changes: list[SchemaChange] = []
    with raw.cursor() as cursor:
        catalog = _Catalog(cursor, tables)
        _conflicts(tables, catalog)
        for table in tables:
            changes.extend(_sync_table(cursor, table, catalog))
    for change in changes:
        log.info("db upgrade: %s", change)
    return changes


def _sync_table(cursor: Any, table: _Table, catalog: _Catalog) -> list[SchemaChange]:
    identifier = sql.Identifier(SCHEMA, table.name)
    changes: list[SchemaChange] = []
    stored = catalog.columns.get(table.name)
    if stored is None:
        definitions = sql.SQL("").join(
            sql.SQL("{} {},\n  ").format(sql.Identifier(c.name), sql.SQL(c.sql_type))
            for c in table.columns
        )
        cursor.execute(_template(table.template).format(table=identifier, columns=definitions))
        changes.append(SchemaChange("create_table", table.name, table.name))
    else:
        for column in table.columns:
            if column.name not in stored:
                changes.append(_add_column(cursor, table, column))
    if table.history and table.history not in catalog.columns:
        history = table.history
        cursor.execute(
            _template("create_history").format(
                history=sql.Identifier(SCHEMA, history),
                key_idx=sql.Identifier(f"{history}_key_idx"),
                open_idx=sql.Identifier(f"{history}_open_idx"),
            )
        )
        changes.append(SchemaChange("create_history", table.name, history))
    existing = catalog.indexes.get(table.name, set())
    for index in table.indexes:
        if ("account", *index) in existing:
            continue  # made by 0001 under its own name, or before
        name = _index_name(table.name, index)
        cursor.execute(
            _template("create_index").format(
                name=sql.Identifier(name),
                table=identifier,
                columns=sql.SQL(", ").join(sql.Identifier(c) for c in index),
            )
        )
        existing.add(("account", *index))
        changes.append(SchemaChange("create_index", table.name, name))
    return changes


def _add_column(cursor: Any, table: _Table, column: Column) -> SchemaChange:
    """Add a declared column and fill it from the stored rows' data."""
    identifier = sql.Identifier(SCHEMA, table.name)
    name = sql.Identifier(column.name)
    cursor.execute(
        _template("add_column").format(table=identifier, column=name, type=sql.SQL(column.sql_type))
    )
    filled = 0
    if column.source == "item":  # a fan_out column's id is in no item: NULL until rewritten
        cursor.execute(
            _template("backfill_column").format(
                table=identifier,
                alias=sql.Identifier(_ALIAS),
                column=name,
                value=table.value(column, _ALIAS),
            )
        )
        filled = cursor.rowcount
    return SchemaChange("add_column", table.name, column.name, filled)
