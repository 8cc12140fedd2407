"""The BI views the resource declarations ask for (`bi:` without `sql:`), generated.

`bi.<view>` shows a declared table's active rows (soft-deleted ones left out): the account,
the id under the declaration's `key_as`, and the listed columns, renamed where asked;
masked columns read the mask's value whenever its boolean column is true or unknown (fail
closed: a NULL turvakielto masks), so a masked row does not even reveal which details
exist. The raw item (`data`) and the sync's bookkeeping are never shown unless listed.
Identifiers come only from the validated declarations (`psycopg.sql`). Applied by
`db upgrade` before the hand-written views of sql/views/, which may read these.
"""

from __future__ import annotations

from collections.abc import Iterable

from psycopg import sql
from sqlalchemy import Connection

from pipelines.declarations import Declared


def view_statement(declared: Declared) -> sql.Composed:
    """`CREATE OR REPLACE VIEW` for one declaration with a generated BI view."""
    bi = declared.spec.bi
    assert bi is not None and bi.sql is None, declared.name
    masked = set(bi.mask.columns) if bi.mask else set()
    columns = [
        sql.SQL("t.account"),
        sql.SQL("t.id AS {}").format(sql.Identifier(bi.key_as or "id")),
    ]
    for entry in bi.columns:
        name = entry if isinstance(entry, str) else entry.column
        shown = name if isinstance(entry, str) else (entry.as_ or name)
        value = sql.SQL("t.{}").format(sql.Identifier(name))
        if name in masked and bi.mask is not None:
            value = sql.SQL("CASE WHEN t.{} IS NOT FALSE THEN {} ELSE t.{} END").format(
                sql.Identifier(bi.mask.when), sql.Literal(bi.mask.value), sql.Identifier(name)
            )
        columns.append(sql.SQL("{} AS {}").format(value, sql.Identifier(shown)))
    return sql.SQL(
        "CREATE OR REPLACE VIEW bi.{view} AS SELECT {columns}"
        " FROM tampuuri.{table} AS t WHERE t.deleted_at IS NULL"
    ).format(
        view=sql.Identifier(bi.view),
        columns=sql.SQL(", ").join(columns),
        table=sql.Identifier(declared.name),
    )


def child_view_statements(declared: Declared) -> list[tuple[str, sql.Composed]]:
    """(view, `CREATE OR REPLACE VIEW`) for each child table of a declaration with a
    generated view: `bi.<child table>` = the account, the parent's id under the parent
    view's `key_as` (to join it), the element's `ordinal` and the child's typed columns,
    for elements of active parents only (the raw element, `data`, never)."""
    bi = declared.spec.bi
    assert bi is not None and bi.sql is None, declared.name
    made = []
    for child in declared.table.children:
        columns = [
            sql.SQL("c.account"),
            sql.SQL("c.parent_id AS {}").format(sql.Identifier(bi.key_as or "parent_id")),
            sql.SQL("c.ordinal"),
            *(sql.SQL("c.{}").format(sql.Identifier(column.name)) for column in child.columns),
        ]
        statement = sql.SQL(
            "CREATE OR REPLACE VIEW bi.{view} AS SELECT {columns} FROM tampuuri.{child} AS c"
            " JOIN tampuuri.{parent} AS p ON p.account = c.account AND p.id = c.parent_id"
            " AND p.deleted_at IS NULL"
        ).format(
            view=sql.Identifier(child.name),
            columns=sql.SQL(", ").join(columns),
            child=sql.Identifier(child.name),
            parent=sql.Identifier(declared.name),
        )
        made.append((child.name, statement))
    return made


def _comment(view: str, description: str, declared: Declared) -> sql.Composed:
    text = f"{description} Generated from config/resources/{declared.source.name}."
    return sql.SQL("COMMENT ON VIEW bi.{} IS {}").format(sql.Identifier(view), sql.Literal(text))


def generated_views(declared: Iterable[Declared]) -> list[tuple[str, sql.Composed, sql.Composed]]:
    """(view, statement, comment) of every generated view, parents before their children."""
    views = []
    for resource in declared:
        bi = resource.spec.bi
        if bi is None or bi.sql is not None:
            continue
        description = resource.spec.description
        views.append((bi.view, view_statement(resource), _comment(bi.view, description, resource)))
        for child, statement in child_view_statements(resource):
            about = f"Elements of {child}, one row each, for the active rows of bi.{bi.view}."
            views.append((child, statement, _comment(child, about, resource)))
    return views


def apply_views(conn: Connection, declared: Iterable[Declared]) -> list[str]:
    """Create or replace the generated views; returns their names.

    A view whose columns changed shape (one removed or reordered in the declaration) cannot
    be replaced in place: it is dropped and created again (CASCADE: the hand-written views
    reading it are re-created right after, from sql/views/).
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    made = []
    for view, statement, comment in generated_views(declared):
        with raw.cursor() as cursor:
            try:
                with raw.transaction():  # a savepoint inside the upgrade's transaction
                    cursor.execute(statement)
            except Exception:
                cursor.execute(
                    sql.SQL("DROP VIEW IF EXISTS bi.{} CASCADE").format(sql.Identifier(view))
                )
                cursor.execute(statement)
            cursor.execute(comment)
        made.append(view)
    return made
