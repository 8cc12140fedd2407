"""Writing a handful of rows outside a complete scan: webhook refreshes, located drift.

The rows go through the nightly sync's loader (`ScopeLoad`: same history, same freshness
guard), with the rows nested in them (a link's party) upserted alongside. Nothing is
inferred from absence here: only the ids the caller confirmed deleted are soft-deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from pipelines.tampuuri.catalogue import ResourceRoutes
from pipelines.warehouse.loader import LoadCounts, ScopeLoad


def load_rows(
    conn: Connection,
    routes: ResourceRoutes,
    *,
    account: str,
    run_id: str,
    items: Sequence[dict[str, Any]],
    deleted_ids: Sequence[int] = (),
    suspect_ids: Sequence[int] = (),
) -> LoadCounts:
    """Upsert `items` (and their nested rows) and soft-delete `deleted_ids`, in `conn`'s
    transaction; returns the counts of the resource's own table."""
    if not items and not deleted_ids and not suspect_ids:
        return LoadCounts()
    load = ScopeLoad(conn, routes.name, account=account, run_id=run_id)
    if items:
        load.stage(items)
    counts = load.apply(deleted_ids=deleted_ids, suspect_ids=suspect_ids)
    for table, field_name in routes.nested.items():
        nested = [
            row
            for item in items
            if isinstance(row := item.get(field_name), dict) and isinstance(row.get("Id"), int)
        ]
        if nested:
            nested_load = ScopeLoad(conn, table, account=account, run_id=run_id)
            nested_load.stage(nested)
            nested_load.apply()
    return counts
