"""The targeted refresh's strategies, one per declared method (`refresh_plan.method_for`).

- detail: one detail call per id (200 upsert, 404 soft delete, 403 skipped).
- change_since_scan: ONE change-since listing from the oldest event minus the overlap;
  ids it did not return take the declaration's `one` method (a detail call) or, where
  `one` is the scan itself (a detail route answering another shape), stay unconfirmed.
- batch: the many-ids route; returned ids upserted, absent ones soft-deleted.
- scope_scan: ids grouped by the fan-out parent they belong to; a parent whose listing
  takes no more calls than its ids -> one complete scan of it, deletions confirmed and
  its scan state recorded as in the nightly sync (`refresh_scopes`), the rest take `one`.
- scope (refresh_scope: the ids are values of the list's scope_filter): with `list_tail`
  and an ordered list, ONE read of the list's end; when that cannot prove it saw every new
  row, one filtered scan per value. Nested rows are upserted, never deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.declarations import Declared
from pipelines.sync.declared import has_fan_out_column
from pipelines.sync.scope_scan import NestedRows, ScopeScan
from pipelines.tampuuri.catalogue import ResourceRoutes
from pipelines.tampuuri.errors import TampuuriForbidden, TampuuriNotFound
from pipelines.tampuuri.tail import read_tail
from pipelines.warehouse.loader import Scope
from pipelines.webhooks.refresh_job import RefreshJob, returned_ids
from pipelines.webhooks.refresh_outcome import TargetOutcome
from pipelines.webhooks.refresh_plan import grouping_column, refresh_spec, scope_column
from pipelines.webhooks.refresh_scopes import scope_plan


async def details(
    job: RefreshJob, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]
) -> None:
    target.strategy = target.strategy or "detail"
    forbidden = await _read_details_and_write(job, target, routes, ids)
    target.done.extend(sorted(set(ids) - set(forbidden)))


async def _read_details_and_write(
    job: RefreshJob,
    target: TargetOutcome,
    routes: ResourceRoutes,
    ids: list[int],
    listed: Sequence[dict[str, Any]] = (),
) -> list[int]:
    """Read `ids` by detail call and write them with the rows already `listed`, in one
    write; the ids the object rights refuse are skipped, and returned."""
    alive, deleted, forbidden = await job.fetch_details(routes, ids)
    target.counts = target.counts + await asyncio.to_thread(
        job.store.write, routes.name, [*listed, *alive], deleted
    )
    target.skipped.extend(forbidden)
    return list(forbidden)


async def change_since(
    job: RefreshJob,
    target: TargetOutcome,
    declared: Declared,
    routes: ResourceRoutes,
    ids: list[int],
) -> None:
    if refresh_spec(declared).one == "change_since_scan":
        # The scan is the only way to read a row: never the detail route.
        target.strategy = "change_since" if routes.change_since else "listing"
        items = await job.change_since_items(routes)
        returned = returned_ids(items, routes.id_field)
        target.counts = await asyncio.to_thread(job.store.write, routes.name, items, [])
        target.unconfirmed.extend(i for i in ids if i not in returned)
        target.done.extend(ids)
        return
    if not routes.change_since or routes.name not in job.hints.since or routes.list is None:
        await details(job, target, routes, ids)
        return
    target.strategy = "change_since"
    items = await job.change_since_items(routes)
    returned = returned_ids(items, routes.id_field)
    rest = [i for i in ids if i not in returned]
    forbidden = await _read_details_and_write(job, target, routes, rest, listed=items)
    target.done.extend(sorted(set(ids) - set(forbidden)))


async def batch(
    job: RefreshJob, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]
) -> None:
    if routes.batch is None:
        await details(job, target, routes, ids)
        return
    target.strategy = "batch"
    found = await job.batch_items(routes, ids)
    wanted = set(ids)
    alive = [item for item_id, item in found.items() if item_id in wanted]
    deleted = [i for i in ids if i not in found]
    target.counts = await asyncio.to_thread(job.store.write, routes.name, alive, deleted)
    target.done.extend(ids)


async def scope_scan(
    job: RefreshJob,
    target: TargetOutcome,
    declared: Declared,
    routes: ResourceRoutes,
    ids: list[int],
) -> None:
    plan = await asyncio.to_thread(
        scope_plan, job.store, job.hints, declared, routes, target.action, ids,
        job.catalogue.max_page_size,
    )  # fmt: skip
    singles = list(plan.singles)
    for parent, members in plan.listings.items():
        target.strategy = "scope_listing"
        try:
            leftovers = await _one_scope(job, target, declared, routes, parent, list(members))
        except TampuuriForbidden:
            # No object right to the whole parent: its rows are not readable.
            target.skipped.extend(members)
            continue
        except TampuuriNotFound:
            leftovers = list(members)  # the parent itself is gone: ask about each row
        singles.extend(leftovers)
    if singles:
        await details(job, target, routes, sorted(singles))


async def _one_scope(
    job: RefreshJob,
    target: TargetOutcome,
    declared: Declared,
    routes: ResourceRoutes,
    parent: int,
    members: list[int],
) -> list[int]:
    """A complete scan of one parent's rows, recorded as the nightly scan of it records
    (cursor, Total, last full scan: the sweep counts it, `budget.shaping`); returns the ids
    it could not settle."""
    assert routes.list is not None
    (param,) = routes.list.parameters
    column = grouping_column(declared)
    in_scope = set(await asyncio.to_thread(job.store.active_where, routes.name, column, parent))
    seen: set[int] = set()

    def observe(item: Mapping[str, Any]) -> bool:
        value = item.get(routes.id_field)
        if isinstance(value, int):
            seen.add(value)
        return True

    scan = ScopeScan(
        resource=routes.name,
        route=routes.list,
        path_params={param: parent},
        scope=Scope(column, (parent,)),
        state_scope=str(parent),
        keep=observe,
        changed_field=routes.changed_field,
        nested=tuple(
            NestedRows(table=table, field=field_name, find_deletions=False)
            for table, field_name in routes.nested.items()
        ),
        fan_out_id=parent if has_fan_out_column(declared) else None,
        # Stamped as a nightly scan only where it reads all the nightly one does (its
        # nested rows' deletions are not looked for here).
        record_state=not routes.nested,
    )
    result = await job.scan(scan)
    target.counts = target.counts + result.counts
    target.skipped.extend(i for s in result.skipped if isinstance(i := s.get("id"), int))
    # Unseen rows that were in the scope were confirmed by the scan itself (404 or a
    # second miss); unseen ids it knew nothing of (moved, or created and deleted
    # between events) still need their own answer.
    settled = [i for i in members if i in seen or i in in_scope]
    target.done.extend(i for i in settled if i not in target.skipped)
    if not result.complete:
        return [i for i in members if i not in seen]
    return [i for i in members if i not in seen and i not in in_scope]


async def scope(
    job: RefreshJob,
    target: TargetOutcome,
    declared: Declared,
    routes: ResourceRoutes,
    ids: list[int],
) -> None:
    assert routes.list is not None and routes.scope_filter is not None
    spec = refresh_spec(declared)
    tail = "list_tail" in (spec.one, spec.many) and routes.ordered_by_id
    if tail and await _from_tail(job, target, routes, ids):
        return
    target.strategy = "filtered_listing"
    nested = tuple(
        NestedRows(table=table, field=field_name, find_deletions=False)
        for table, field_name in routes.nested.items()
    )
    for value in ids:
        scan = ScopeScan(
            resource=routes.name,
            route=routes.list,
            filters={routes.scope_filter: value},
            scope=Scope(scope_column(declared), (value,)),
            nested=nested,
            record_state=False,
        )
        try:
            result = await job.scan(scan)
        except TampuuriForbidden:
            target.skipped.append(value)
            continue
        target.counts = target.counts + result.counts
        target.done.append(value)


async def _from_tail(
    job: RefreshJob, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]
) -> bool:
    """One read of the list's end; False when it cannot prove completeness."""
    assert routes.list is not None
    newest, known = await asyncio.to_thread(job.store.extent, routes.name)
    if newest is None:
        return False
    try:
        read = await read_tail(
            job.client,
            routes.list,
            newest_id=newest,
            known_rows=known,
            id_field=routes.id_field,
            page_size=job.catalogue.max_page_size,
        )
    except TampuuriForbidden:
        return False  # no right to the whole list: the filtered scans skip and report
    if not read.complete:
        target.fallback = read.reason
        return False
    target.strategy = "tail"
    target.counts = target.counts + await asyncio.to_thread(
        job.store.write_with_nested, routes, read.items
    )
    target.done.extend(ids)
    return True
