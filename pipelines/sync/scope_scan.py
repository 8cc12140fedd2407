"""One scan of one scope, staged and committed in one warehouse transaction.

A scope is what one complete list scan speaks for: a whole account (cost centres, links,
notices) or one cost centre (its objects). Pages are COPYed into staging as they arrive;
only when the scan ends are the rows upserted, the confirmed missing ones soft-deleted and
the cursor advanced. Rows nested in the items (a link's party) load in the same
transaction (`load_sessions.LoadSession`), which commits everything at once. A scan that
fails rolls back: the warehouse stays as it was and the cursor does not move.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from pipelines.sync.confirm import Confirmation, confirm_missing
from pipelines.sync.load_sessions import LoadSession, PageStager, all_settled
from pipelines.tampuuri.catalogue import Catalogue, Route
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import (
    TampuuriForbidden,
    TampuuriNotFound,
    TampuuriRouteForbidden,
    route_refusal,
)
from pipelines.tampuuri.paging import PagedScan
from pipelines.warehouse import state
from pipelines.warehouse.encoding import EncodedPage
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
    """What a committed batch of scope scans did (one scan, or many of one fan-out)."""

    counts: LoadCounts = field(default_factory=LoadCounts)
    tables: dict[str, LoadCounts] = field(default_factory=dict)  # the counts per table
    pages: int = 0
    complete: bool = False  # every scan of the batch was complete
    forbidden: bool = False  # every scan of the batch answered 403
    scopes: int = 0
    scopes_forbidden: int = 0
    scopes_incomplete: int = 0
    skipped: list[dict[str, object]] = field(default_factory=list)
    new_fields: set[str] = field(default_factory=set)


@dataclass
class _ScanResult:
    scan: ScopeScan
    complete: bool = False
    forbidden: bool = False
    total: int | None = None
    newest: datetime | None = None


async def run_scope_batch(
    scans: Sequence[ScopeScan],
    *,
    client: TampuuriClient,
    catalogue: Catalogue,
    engine: Engine,
    account: str,
    run_id: str,
    page_concurrency: int,
    max_passes: int,
    on_page: Callable[[int], None],
    tolerate_scope_errors: bool = True,
    disjoint: bool = False,
) -> ScopeOutcome:
    """Scan several scopes of one kind (e.g. cost centres) and commit them in ONE transaction.

    One transaction per cost centre costs a dozen statements and a commit each; a batch
    pays that once. A scope answering 403 for an object right is skipped (its rows kept; a
    403 refusing the route as a whole raises `TampuuriRouteForbidden`) and one answering 404
    is gone (its rows become deletion candidates); any other failure rolls the whole batch
    back and raises. Deletions are only looked for within the scopes scanned completely.
    `tolerate_scope_errors=False` (a single targeted scan): 403 and 404 on the scope raise
    (`TampuuriForbidden`, `TampuuriNotFound`) instead of being recorded.
    `disjoint`: the batch is one of several concurrent batches of one fan-out scan, whose
    rows do not overlap: their loads may apply side by side (see `ScopeLoad`).
    """
    first = scans[0]
    if len(scans) > 1 and first.scope.column is None:
        raise ValueError("only scopes of one column (e.g. cost centres) can share a batch")
    outcome = ScopeOutcome(scopes=len(scans))
    session = LoadSession(engine)
    try:
        loads = await session.open_loads(
            first.resource,
            scope=first.scope,
            nested=[n.table for n in first.nested],
            account=account,
            run_id=run_id,
            disjoint=disjoint,
        )
        # One stager for all scans of the batch: the pages of many small scopes (a cost
        # centre's objects are often one page) share COPY statements.
        stager = PageStager(loads, session)
        refused: list[TampuuriRouteForbidden] = []

        async def scan_one(scan: ScopeScan) -> _ScanResult:
            result = _ScanResult(scan)
            paged = PagedScan(
                client,
                scan.route,
                path_params=scan.path_params,
                filters=scan.filters,
                page_size=catalogue.max_page_size,
                concurrency=page_concurrency,
                max_passes=max_passes,
            )
            try:  # (the batch drains the stager once all its scans have stopped)
                async for page in paged.pages():
                    items = [i for i in page.items if scan.keep is None or scan.keep(i)]
                    result.newest = _newest(items, scan.changed_field, result.newest)
                    await stager.stage(_encode(loads, scan, items))
                    on_page(len(page.items))
            except TampuuriForbidden as exc:
                # A role right refuses the route as a whole: the resource is `forbidden`.
                names_object = bool(scan.path_params) or any(
                    key != catalogue.resources[scan.resource].change_since for key in scan.filters
                )
                refused.extend(r for r in [route_refusal(exc, names_object=names_object)] if r)
                if refused:
                    raise refused[0] from None
                if not tolerate_scope_errors:
                    raise
                result.forbidden = True
                return result
            except TampuuriNotFound:
                if not tolerate_scope_errors:
                    raise
                result.complete = True  # the scope is gone: everything under it is missing
                result.total = 0
                return result
            outcome.pages += paged.result.pages
            result.complete = paged.result.complete
            result.total = paged.result.total
            return result

        # A batch's scopes take turns, page_concurrency at a time: the client's calls in
        # flight are shared with the other resources of the run, and a FIFO queue with
        # every scope of the batch in it would leave them (the link list) waiting.
        in_flight = asyncio.Semaphore(page_concurrency)

        async def scan_in_turn(scan: ScopeScan) -> _ScanResult:
            async with in_flight:
                if refused:  # the route is refused: its other scopes are not called
                    raise refused[0]
                return await scan_one(scan)

        try:
            results = await all_settled(scan_in_turn(s) for s in scans)
        finally:
            await stager.drain()  # staging has stopped before any error reaches the rollback
        complete = [r for r in results if r.complete]
        outcome.scopes_forbidden = sum(r.forbidden for r in results)
        outcome.scopes_incomplete = sum(not r.complete and not r.forbidden for r in results)
        outcome.complete = len(complete) == len(results)
        outcome.forbidden = outcome.scopes_forbidden == len(results)
        outcome.skipped.extend(
            {"resource": r.scan.resource, "scope": dict(r.scan.path_params),
             "route": f"{r.scan.route.method} {r.scan.route.template}",
             "reason": "403 object right"}
            for r in results if r.forbidden
        )  # fmt: skip
        deletions = first.finds_deletions and bool(complete)
        if deletions and first.scope.column is not None:
            # Only the completely scanned scopes speak for their rows' absence.
            covered = tuple(v for r in complete for v in r.scan.scope.values)
            loads[first.resource].restrict_scope(covered)

        for table, load in loads.items():  # one after the other, on the one connection
            confirmation = Confirmation()
            if deletions and _finds_deletions(first, table):
                confirmation = await _confirm(session, client, catalogue, account, table, load)
            outcome.skipped.extend(
                {"resource": table, "id": i, "route": _detail_route(catalogue, table),
                 "reason": "403 object right"}
                for i in confirmation.forbidden
            )  # fmt: skip
            outcome.new_fields.update(load.new_fields())
            counts = await session.run(
                functools.partial(
                    load.apply, deleted_ids=confirmation.deleted, suspect_ids=confirmation.suspect
                )
            )
            outcome.counts = outcome.counts + counts
            outcome.tables[table] = outcome.tables.get(table, LoadCounts()) + counts
        writes = [
            _state_write(account, r) for r in results if r.scan.record_state and not r.forbidden
        ]
        await session.run(functools.partial(state.save_scope_states, session.connection, writes))
        await session.commit()  # the batch's tables and its scan state: together
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
    return outcome


async def _confirm(
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


def _state_write(account: str, result: _ScanResult) -> state.ScopeStateWrite:
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
    statement = text(
        f"SELECT id, {column} FROM tampuuri.{spec.name}"  # identifiers from TABLES only
        " WHERE account = :account AND id = ANY(:ids)"
    )
    rows = conn.execute(statement, {"account": account, "ids": [m.id for m in missing]})
    return {row_id: value for row_id, value in rows}


def _detail_route(catalogue: Catalogue, table: str) -> str | None:
    detail = catalogue.resources[table].detail
    return f"{detail.method} {detail.template}" if detail is not None else None


def _finds_deletions(scan: ScopeScan, table: str) -> bool:
    if table == scan.resource:
        return True
    return any(n.table == table and n.find_deletions for n in scan.nested)


def _encode(
    loads: Mapping[str, ScopeLoad], scan: ScopeScan, items: Sequence[dict[str, Any]]
) -> list[EncodedPage]:
    """A page's items for the scan's table, and the rows nested in them for theirs."""
    pages = [loads[scan.resource].encode(items)]
    for nested in scan.nested:
        inner = [i[nested.field] for i in items if isinstance(i.get(nested.field), dict)]
        if inner:
            pages.append(loads[nested.table].encode(inner))
    return pages


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
