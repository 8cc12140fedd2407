"""Child tables (tables.ChildSpec): a list inside each item, one row per element.

Written by the loader in the parent's transaction, set-based: for every parent the load
inserted or whose content changed, its child rows are deleted and its list's elements
inserted again (children_delete.sql, children_insert.sql). A parent not written keeps
its children; so does a soft-deleted one (BI views filter on the parent).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from pipelines.warehouse.load_sql import SCHEMA, LoadTarget, template
from pipelines.warehouse.tables import ChildSpec, Column, typed_expression

# The alias of a list element in children_insert.sql (its `data` is the element).
ELEMENT = "e"


def element_value(column: Column, source: str = ELEMENT) -> sql.Composable:
    """A child table's typed column from one element (`<source>.data`): NULL unless the
    element is a JSON object (a list of plain values still gets its rows, data only)."""
    return sql.SQL("CASE WHEN jsonb_typeof({e}.data) = 'object' THEN {value} END").format(
        e=sql.Identifier(source), value=typed_expression(column, source)
    )


def list_value(child: ChildSpec, source: str = "s") -> sql.Composable:
    """The parent item's list (`<source>.data`'s `child.field`, dotted for a nested one)."""
    parts = child.field.split(".")
    if len(parts) == 1:
        return sql.SQL("{}.data->{}").format(sql.Identifier(source), sql.Literal(child.field))
    return sql.SQL("{}.data#>{}").format(sql.Identifier(source), sql.Literal(parts))


def write_children(cursor: Any, target: LoadTarget, parents: sql.Composable) -> None:
    """Rewrite the child rows of `parents` (a FROM item of rows (id, data): the parents
    this load wrote) in every child table of the load's table."""
    for child in target.spec.children:
        table = sql.Identifier(SCHEMA, child.name)
        params = {"account": target.account}
        cursor.execute(template("children_delete").format(child=table, parents=parents), params)
        statement = template("children_insert").format(
            child=table,
            parents=parents,
            columns=sql.SQL("").join(
                sql.SQL("{}, ").format(sql.Identifier(c.name)) for c in child.columns
            ),
            values=sql.SQL("").join(
                sql.SQL("{}, ").format(element_value(c)) for c in child.columns
            ),
            list=list_value(child),
        )
        cursor.execute(statement, params)
