"""What a batch of scope scans does with the rows it saw: confirm the missing ones, encode
pages (with the rows nested in them), record each scope's state. Helpers of
`scope_scan.run_scope_batch`."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from pipelines.sync.confirm import Confirmation, confirm_missing
from pipelines.sync.load_sessions import LoadSession
from pipelines.sync.scan_types import ScanResult, ScopeScan
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.warehouse import state
from pipelines.warehouse.declared_sql import statement
from pipelines.warehouse.encoding import EncodedPage
from pipelines.warehouse.loader import MissingRow, ScopeLoad
from pipelines.warehouse.tables import TABLES


async def confirm(
    session: LoadSession,
    client: TampuuriClient,
    catalogue: Catalogue,
    account: str,
    table: str,
    load: ScopeLoad,
) -> Confirmation:
    """Confirm the absence of the rows a complete scan missed; stage the ones still alive."""
    missing = await session.run(load.missing)
    if not missing:
        return Confirmation()
    routes = catalogue.resources[table]
    scope_values = await session.run(
        functools.partial(
            _scope_values, session.connection, account, table, routes.scope_filter, missing
        )
    )
    confirmation = await confirm_missing(client, routes, missing, scope_values=scope_values)
    if confirmation.alive:
        await session.run(functools.partial(load.stage, confirmation.alive))
    return confirmation


def state_write(account: str, result: ScanResult) -> state.ScopeStateWrite:
    scan = result.scan
    return state.ScopeStateWrite(
        account=account,
        resource=scan.state_resource or scan.resource,
        scope=scan.state_scope,
        # A drifted scan may have skipped a row changed after the old cursor: keep it.
        cursor=result.newest if result.complete else None,
        total=result.total if result.complete and scan.finds_deletions else None,
        full_scan=scan.finds_deletions and result.complete,
        success=True,
    )


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
    rows = conn.execute(
        statement("column_of_ids", spec.name, column),
        {"account": account, "ids": [m.id for m in missing]},
    )
    return {row_id: value for row_id, value in rows}


def detail_route(catalogue: Catalogue, table: str) -> str | None:
    detail = catalogue.resources[table].detail
    return f"{detail.method} {detail.template}" if detail is not None else None


def finds_deletions(scan: ScopeScan, table: str) -> bool:
    if table == scan.resource:
        return True
    return any(n.table == table and n.find_deletions for n in scan.nested)


def encode(
    loads: Mapping[str, ScopeLoad], scan: ScopeScan, items: Sequence[dict[str, Any]]
) -> list[EncodedPage]:
    """A page's items for the scan's table, and the rows nested in them for theirs."""
    pages = [loads[scan.resource].encode(items, fan_out_id=scan.fan_out_id)]
    for nested in scan.nested:
        inner = [i[nested.field] for i in items if isinstance(i.get(nested.field), dict)]
        if inner:
            pages.append(loads[nested.table].encode(inner))
    return pages


def newest(
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
