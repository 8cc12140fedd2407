"""One scan of one scope, staged and committed in one warehouse transaction.

A scope is what one complete list scan speaks for: a whole account (cost centres, links,
notices) or one cost centre (its objects). Pages are COPYed into staging as they arrive;
only when the scan ends does one transaction upsert the rows, soft-delete the confirmed
missing ones and advance the cursor. A scan that fails rolls back: the warehouse stays as
it was and the cursor does not move.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from pipelines.sync.confirm import Confirmation, confirm_missing
from pipelines.tampuuri.catalogue import Catalogue, Route
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.paging import PagedScan
from pipelines.warehouse import state
from pipelines.warehouse.loader import LoadCounts, MissingRow, Scope, ScopeLoad
from pipelines.warehouse.tables import TABLES

ItemFilter = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class NestedRows:
    """Rows of another table carried inside each item (a link's nested party)."""

    table: str
    field: str
    # Whether a complete scan of the parent speaks for the nested table's deletions.
    find_deletions: bool = True


@dataclass(frozen=True)
class ScopeScan:
    """What to scan and which warehouse rows the scan speaks for."""

    resource: str  # the catalogue resource and warehouse table
    route: Route
    path_params: Mapping[str, object] = field(default_factory=dict)
    filters: Mapping[str, object] = field(default_factory=dict)
    scope: Scope = field(default_factory=lambda: Scope(None))
    state_resource: str = ""
    state_scope: str = ""
    # False for change-since scans: rows missing from them are not deletions.
    finds_deletions: bool = True
    keep: ItemFilter | None = None
    nested: tuple[NestedRows, ...] = ()
    changed_field: str | None = None
    # False for targeted scans (webhook refreshes, reconciliation checks): they load rows
    # but must not move the nightly cursors, totals or last-full-scan times.
    record_state: bool = True


@dataclass
class ScopeOutcome:
    counts: LoadCounts = field(default_factory=LoadCounts)
    pages: int = 0
    complete: bool = False
    forbidden: bool = False
    skipped: list[dict[str, object]] = field(default_factory=list)
    new_fields: set[str] = field(default_factory=set)


async def run_scope_scan(
    scan: ScopeScan,
    *,
    client: TampuuriClient,
    catalogue: Catalogue,
    engine: Engine,
    account: str,
    run_id: str,
    page_concurrency: int,
    max_passes: int,
    on_page: Callable[[int], None],
) -> ScopeOutcome:
    """Scan one scope and commit it; raises (after rolling back) when the scan fails."""
    outcome = ScopeOutcome()
    conn: Connection = await asyncio.to_thread(engine.connect)
    try:
        transaction = conn.begin()
        loads = await asyncio.to_thread(_open_loads, conn, scan, account, run_id)
        paged = PagedScan(
            client,
            scan.route,
            path_params=scan.path_params,
            filters=scan.filters,
            page_size=catalogue.max_page_size,
            concurrency=page_concurrency,
            max_passes=max_passes,
        )
        newest: datetime | None = None
        async for page in paged.pages():
            items = [i for i in page.items if scan.keep is None or scan.keep(i)]
            newest = _newest(items, scan.changed_field, newest)
            await asyncio.to_thread(_stage, loads, scan, items)
            outcome.pages += 1
            on_page(len(page.items))
        result = paged.result
        outcome.complete = result.complete
        outcome.pages = result.pages
        deletions = scan.finds_deletions and result.complete
        for table, load in loads.items():
            confirmation = Confirmation()
            if deletions and _finds_deletions(scan, table):
                missing = await asyncio.to_thread(load.missing)
                if missing:
                    routes = catalogue.resources[table]
                    scope_values = await asyncio.to_thread(
                        _scope_values, conn, account, table, routes.scope_filter, missing
                    )
                    confirmation = await confirm_missing(
                        client, routes, missing, scope_values=scope_values
                    )
                    if confirmation.alive:
                        await asyncio.to_thread(load.stage, confirmation.alive)
            outcome.skipped.extend(
                {"resource": table, "id": i, "reason": "403 object right"}
                for i in confirmation.forbidden
            )
            outcome.new_fields.update(await asyncio.to_thread(load.new_fields))
            counts = await asyncio.to_thread(
                load.apply,
                deleted_ids=confirmation.deleted,
                suspect_ids=confirmation.suspect,
            )
            outcome.counts = outcome.counts + counts
        if scan.record_state:
            await asyncio.to_thread(
                state.save_scope_state,
                conn,
                account=account,
                resource=scan.state_resource or scan.resource,
                scope=scan.state_scope,
                # A drifted scan may have skipped a row changed after the old cursor: keep it.
                cursor=newest if result.complete else None,
                total=result.total if result.complete and scan.finds_deletions else None,
                full_scan=deletions,
                success=True,
            )
        await asyncio.to_thread(transaction.commit)
    except BaseException:
        await asyncio.to_thread(conn.rollback)
        raise
    finally:
        await asyncio.to_thread(conn.close)
    return outcome


def _open_loads(
    conn: Connection, scan: ScopeScan, account: str, run_id: str
) -> dict[str, ScopeLoad]:
    loads = {
        scan.resource: ScopeLoad(
            conn, scan.resource, account=account, run_id=run_id, scope=scan.scope
        )
    }
    for nested in scan.nested:
        loads[nested.table] = ScopeLoad(conn, nested.table, account=account, run_id=run_id)
    return loads


def _scope_values(
    conn: Connection,
    account: str,
    table: str,
    scope_filter: str | None,
    missing: Sequence[MissingRow],
) -> dict[int, int | None] | None:
    """Each missing row's value of the column behind the list route's scope filter."""
    if scope_filter is None:
        return None
    spec = TABLES[table]
    column = next((c.name for c in spec.columns if c.field == scope_filter), None)
    if column is None:
        return None
    statement = text(
        f"SELECT id, {column} FROM tampuuri.{spec.name}"  # identifiers from TABLES only
        " WHERE account = :account AND id = ANY(:ids)"
    )
    rows = conn.execute(statement, {"account": account, "ids": [m.id for m in missing]})
    return {row_id: value for row_id, value in rows}


def _finds_deletions(scan: ScopeScan, table: str) -> bool:
    if table == scan.resource:
        return True
    return any(n.table == table and n.find_deletions for n in scan.nested)


def _stage(
    loads: Mapping[str, ScopeLoad], scan: ScopeScan, items: Sequence[dict[str, Any]]
) -> None:
    loads[scan.resource].stage(items)
    for nested in scan.nested:
        inner = [i[nested.field] for i in items if isinstance(i.get(nested.field), dict)]
        if inner:
            loads[nested.table].stage(inner)


def _newest(
    items: Sequence[Mapping[str, Any]], changed_field: str | None, newest: datetime | None
) -> datetime | None:
    """The latest change time among items (for the change-since cursor)."""
    if changed_field is None:
        return newest
    for item in items:
        value = item.get(changed_field)
        if not isinstance(value, str):
            continue
        try:
            changed = datetime.fromisoformat(value)
        except ValueError:
            continue
        if changed.tzinfo is not None and (newest is None or changed > newest):
            newest = changed
    return newest
