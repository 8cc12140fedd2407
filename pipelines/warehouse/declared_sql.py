"""The sync's reads of mirrored tables: templates in `sql/sync/`, identifiers from TableSpecs.

A template names `{table}` and maybe `{column}`; both come from the resource declarations
(`warehouse.tables.TABLES`, whose names are checked to be plain identifiers), never from
an item or a user's input. Values are always bound parameters.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, text

from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.tables import TABLES

SQL_DIR = PROJECT_ROOT / "sql" / "sync"
# `active_with_column` for a table without the column asked for reads NULL instead.
NO_COLUMN = "NULL"


def statement(name: str, table: str, column: str | None = None) -> TextClause:
    """`sql/sync/<name>.sql` for `table` (and `column`: a typed column, "id", or NULL).

    Raises:
        KeyError: `table` is no mirrored table, or `column` none of its columns.
    """
    spec = TABLES[table]  # KeyError names the declared tables
    if column not in (None, "id", NO_COLUMN):
        spec.column(column)  # KeyError names the table and column
    return _statement(name, spec.name, column or NO_COLUMN)


@cache
def _template(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


@cache
def _statement(name: str, table: str, column: str) -> TextClause:
    return text(_template(name).format(table=table, column=column))
