"""Rows a complete scan did not see: listing them, soft-deleting confirmed ones, marking
suspects (a first miss that nothing can confirm yet). SQL templates: sql/loader/.

A soft delete closes the row's open history version and opens a final one with
deleted = true and valid_to NULL, so the current history version of a deleted row says
"deleted". Child rows of a soft-deleted row are kept.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from pipelines.warehouse.load_sql import LoadTarget, template
from pipelines.warehouse.load_types import MissingRow, Scope


def missing_rows(cursor: Any, target: LoadTarget, scope: Scope) -> list[MissingRow]:
    """Active rows of the account in `scope` that are not in staging, ascending id."""
    params: dict[str, Any] = {"account": target.account}
    scope_filter: sql.Composable = sql.SQL("")
    if scope.column is not None:
        scope_filter = sql.SQL("AND t.{} = ANY(%(scope_values)s)").format(
            sql.Identifier(scope.column)
        )
        params["scope_values"] = list(scope.values)
    query = template("missing").format(
        table=target.table, staging=target.staging, scope_filter=scope_filter
    )
    cursor.execute(query, params)
    return [MissingRow(id=row[0], missing_since=row[1]) for row in cursor]


def soft_delete(cursor: Any, target: LoadTarget, ids: list[int]) -> int:
    """Soft-delete the active rows among `ids`, with their final history version;
    returns how many were deleted."""
    if not ids:
        return 0
    params = target.params
    cursor.execute(template("soft_delete").format(table=target.table), {**params, "ids": ids})
    gone = [row[0] for row in cursor.fetchall()]
    if gone:
        params["ids"] = gone
        cursor.execute(template("history_close_ids").format(history=target.history), params)
        cursor.execute(
            template("history_mark_deleted").format(history=target.history, table=target.table),
            params,
        )
    return len(gone)


def mark_suspects(cursor: Any, target: LoadTarget, ids: list[int]) -> None:
    """Set missing_since on the active rows among `ids` where it is not set yet."""
    if not ids:
        return
    cursor.execute(
        template("mark_suspects").format(table=target.table),
        {"account": target.account, "ids": ids},
    )
