"""One scan of one scope, staged and committed in one warehouse transaction.

A scope is what one complete list scan speaks for: a whole account (cost centres, links,
notices) or one cost centre (its objects). Pages are COPYed into staging as they arrive;
only when the scan ends are the rows upserted, the confirmed missing ones soft-deleted and
the cursor advanced. Rows nested in the items (a link's party) load in the same
transaction (`load_sessions.LoadSession`), which commits everything at once. A scan that
fails rolls back: the warehouse stays as it was and the cursor does not move.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from pipelines.sync.confirm import Confirmation
from pipelines.sync.load_sessions import LoadSession, PageStager, all_settled
from pipelines.sync.scan_rows import (
    confirm,
    detail_route,
    encode,
    finds_deletions,
    newest,
    state_write,
)
from pipelines.sync.scan_types import ItemFilter, NestedRows, ScanResult, ScopeOutcome, ScopeScan
from pipelines.sync.scope_turns import ScopeTurns
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import (
    TampuuriForbidden,
    TampuuriNotFound,
    TampuuriRouteForbidden,
    route_refusal,
)
from pipelines.tampuuri.paging import PagedScan
from pipelines.warehouse import state
from pipelines.warehouse.loader import LoadCounts

__all__ = ["ItemFilter", "NestedRows", "ScopeOutcome", "ScopeScan", "run_scope_batch"]


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
    turns: ScopeTurns | None = None,
    batch_number: int = 0,
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
    `turns` (shared by those batches) gives the scans of the lowest `batch_number` the
    free slots first (`scope_turns.py`); without it, the batch's scans take turns alone.
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

        async def scan_one(scan: ScopeScan) -> ScanResult:
            result = ScanResult(scan)
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
                    result.newest = newest(items, scan.changed_field, result.newest)
                    await stager.stage(encode(loads, scan, items))
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
        slots = turns or ScopeTurns(page_concurrency)

        async def scan_in_turn(scan: ScopeScan) -> ScanResult:
            async with slots.turn(batch_number):
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
            if deletions and finds_deletions(first, table):
                confirmation = await confirm(session, client, catalogue, account, table, load)
            outcome.skipped.extend(
                {"resource": table, "id": i, "route": detail_route(catalogue, table),
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
            state_write(account, r) for r in results if r.scan.record_state and not r.forbidden
        ]
        await session.run(functools.partial(state.save_scope_states, session.connection, writes))
        await session.commit()  # the batch's tables and its scan state: together
    except BaseException:
        await session.rollback()
        raise
    finally:
        await session.close()
    return outcome
