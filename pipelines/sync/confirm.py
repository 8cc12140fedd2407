"""Confirming that rows missing from a complete scan are really gone.

Offset paging over a changing table can hide a live row from one scan even when `Total`
looks unchanged, so absence alone never deletes. The cheapest confirmation the catalogue
offers is used:

- a batch-by-id route: one call per `max_ids` missing rows; ids it does not return are gone;
- a detail route: one call per missing row; 404 means gone, 200 means alive (and the
  fresh item is loaded), 403 means we may not read it (kept, reported as skipped);
- a scope filter on the list route (links by `KohdeId`): one small complete re-scan per
  distinct scope value of the missing rows; rows it does not list either are gone;
- none of these: a second complete scan must also miss the row (`missing_since` marks
  the first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.tampuuri.catalogue import ResourceRoutes
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import TampuuriForbidden, TampuuriNotFound
from pipelines.tampuuri.paging import PagedScan
from pipelines.warehouse.loader import MissingRow


@dataclass
class Confirmation:
    deleted: list[int] = field(default_factory=list)
    suspect: list[int] = field(default_factory=list)
    forbidden: list[int] = field(default_factory=list)
    alive: list[dict[str, Any]] = field(default_factory=list)


async def confirm_missing(
    client: TampuuriClient,
    routes: ResourceRoutes,
    missing: Sequence[MissingRow],
    *,
    scope_values: Mapping[int, int | None] | None = None,
) -> Confirmation:
    """Sort missing rows into deleted, alive (with fresh data), forbidden or suspect.

    Args:
        client: the run's API client (every call is ledgered).
        routes: the catalogue entry of the rows' resource.
        missing: active rows a complete scan did not see.
        scope_values: for resources confirmed by a scoped re-scan, each missing id's value
            of the `scope_filter` column (e.g. a link's object id).
    """
    if routes.batch is not None:
        return await _confirm_by_batch(client, routes, [m.id for m in missing])
    if routes.detail is not None:
        return await _confirm_by_detail(client, routes, [m.id for m in missing])
    if routes.scope_filter is not None and routes.list is not None and scope_values is not None:
        return await _confirm_by_scoped_rescan(client, routes, missing, scope_values)
    result = Confirmation()
    for row in missing:
        (result.deleted if row.missing_since is not None else result.suspect).append(row.id)
    return result


async def _confirm_by_detail(
    client: TampuuriClient, routes: ResourceRoutes, ids: Sequence[int]
) -> Confirmation:
    assert routes.detail is not None
    detail = routes.detail
    (param,) = detail.parameters

    async def check(row_id: int) -> tuple[int, str, dict[str, Any] | None]:
        try:
            item = await client.call(detail, path_params={param: row_id})
        except TampuuriNotFound:
            return row_id, "deleted", None
        except TampuuriForbidden:
            return row_id, "forbidden", None
        return row_id, "alive", item if isinstance(item, dict) else None

    result = Confirmation()
    for row_id, verdict, item in await asyncio.gather(*(check(i) for i in ids)):
        if verdict == "deleted":
            result.deleted.append(row_id)
        elif verdict == "forbidden":
            result.forbidden.append(row_id)
        elif item is not None:
            result.alive.append(item)
    return result


async def _confirm_by_batch(
    client: TampuuriClient, routes: ResourceRoutes, ids: Sequence[int]
) -> Confirmation:
    batch = routes.batch
    assert batch is not None and batch.ids_field is not None
    size = batch.max_ids or 100
    chunks = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    answers = await asyncio.gather(
        *(client.call(batch, json={batch.ids_field: chunk}) for chunk in chunks)
    )
    result = Confirmation()
    for chunk, answer in zip(chunks, answers, strict=True):
        found = {
            item[routes.id_field]: item
            for item in (answer if isinstance(answer, list) else [])
            if isinstance(item, dict) and isinstance(item.get(routes.id_field), int)
        }
        result.alive.extend(found.values())
        result.deleted.extend(i for i in chunk if i not in found)
    return result


async def _confirm_by_scoped_rescan(
    client: TampuuriClient,
    routes: ResourceRoutes,
    missing: Sequence[MissingRow],
    scope_values: Mapping[int, int | None],
) -> Confirmation:
    assert routes.list is not None and routes.scope_filter is not None
    by_scope: dict[int, set[int]] = {}
    result = Confirmation()
    for row in missing:
        value = scope_values.get(row.id)
        if value is None:  # no scope to re-scan: fall back to a second full scan
            (result.deleted if row.missing_since is not None else result.suspect).append(row.id)
        else:
            by_scope.setdefault(value, set()).add(row.id)

    async def rescan(value: int, ids: set[int]) -> None:
        scan = PagedScan(client, routes.list, filters={routes.scope_filter: value})  # type: ignore
        seen: dict[int, dict[str, Any]] = {}
        async for page in scan.pages():
            for item in page.items:
                if item.get(routes.id_field) in ids:
                    seen[item[routes.id_field]] = item
        if not scan.result.complete:
            result.suspect.extend(i for i in ids if i not in seen)
        else:
            result.deleted.extend(i for i in ids if i not in seen)
        result.alive.extend(seen.values())

    await asyncio.gather(*(rescan(v, ids) for v, ids in sorted(by_scope.items())))
    return result
