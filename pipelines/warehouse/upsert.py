"""Writing staged rows: new rows straight from staging, or the plan and one upsert.

Both paths write history in the same transaction (every insert or change closes the
row's open version and opens a new one) and rewrite the child rows of every row they
write (children.py). SQL templates: sql/loader/.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from pipelines.warehouse.children import write_children
from pipelines.warehouse.load_sql import (
    LoadTarget,
    assignments,
    column_names,
    column_values,
    template,
)
from pipelines.warehouse.load_types import LoadCounts
from pipelines.warehouse.tables import freshness_expressions


def insert_new(cursor: Any, target: LoadTarget, source: sql.Composable, *, repeats: bool) -> int:
    """Write every row of `source` as new, with its first history version; returns how
    many rows were inserted (insert_new_rows.sql, insert_new_versions.sql).

    Args:
        source: the staging table, or its last staged copy of each id
            (`LoadTarget.latest_staged`) when staging may hold an id twice.
        repeats: some staged ids are stored, by this streaming load itself: overwrite
            them (ON CONFLICT) instead of inserting; else plain inserts.
    """
    columns = target.spec.columns
    row_conflict: sql.Composable = sql.SQL("")
    version_conflict: sql.Composable = sql.SQL("")
    if repeats:
        row_conflict = sql.SQL("{} RETURNING (t.xmax = 0)").format(
            template("overwrite_row").format(assignments=assignments(columns))
        )
        version_conflict = template("overwrite_version")
    params = target.params
    rows = template("insert_new_rows").format(
        table=target.table,
        source=source,
        columns=column_names(columns),
        values=column_values(columns),
        row_conflict=row_conflict,
    )
    cursor.execute(rows, params)
    # With repeats, only the rows xmax = 0 says were new count as inserted.
    inserted = sum(new for (new,) in cursor) if repeats else cursor.rowcount
    versions = template("insert_new_versions").format(
        history=target.history, source=source, version_conflict=version_conflict
    )
    cursor.execute(versions, params)
    if target.spec.children:
        write_children(cursor, target, source)
    return int(inserted)


def plan_and_write(cursor: Any, target: LoadTarget) -> LoadCounts:
    """Classify staged rows against stored ones (plan.sql), then write what changed."""
    params = target.params
    spec = target.spec
    names = {"plan": target.plan, "staging": target.staging, "table": target.table}
    # Temp tables are never auto-analysed; without statistics the planner guesses.
    cursor.execute(sql.SQL("ANALYZE {}").format(target.staging))
    cursor.execute(template("plan").format(**names, **freshness_expressions(spec)), params)
    cursor.execute(sql.SQL("ANALYZE {}").format(target.plan))
    cursor.execute(
        sql.SQL(
            "SELECT count(*) FILTER (WHERE action IN ('insert', 'update')),"
            " count(*) FILTER (WHERE action = 'update'),"
            " count(*) FILTER (WHERE action = 'unchanged'),"
            " count(*) FILTER (WHERE action = 'stale'),"
            " count(*) FILTER (WHERE was_missing) FROM {}"
        ).format(target.plan)
    )
    writes, updates, unchanged, stale, were_missing = cursor.fetchone()
    inserted = updated = 0
    # A nightly re-scan mostly finds nothing changed: skip the statements that would
    # find nothing to do.
    if updates:
        cursor.execute(
            template("history_close").format(history=target.history, plan=target.plan),
            params,
        )
    if writes:
        cursor.execute(
            template("upsert").format(
                **names,
                columns=column_names(spec.columns),
                values=column_values(spec.columns),
                assignments=assignments(spec.columns),
            ),
            params,
        )
        inserted, updated = cursor.fetchone()
        cursor.execute(template("history_open").format(history=target.history, **names), params)
        if spec.children:
            parents = template("written_parents").format(plan=target.plan, staging=target.staging)
            write_children(cursor, target, parents)
    if were_missing:
        # Seen again: no longer a deletion candidate (the only write to unchanged rows).
        cursor.execute(
            template("clear_missing").format(table=target.table, plan=target.plan),
            params,
        )
    cursor.execute(sql.SQL("DROP TABLE {}").format(target.plan))
    return LoadCounts(inserted=inserted, updated=updated, unchanged=unchanged, stale=stale)
