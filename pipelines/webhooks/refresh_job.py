"""One account's targeted refresh: what it holds, and the reads every strategy builds on
(detail calls, a change-since listing, one scope scan through the nightly loader)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from pipelines.sync.scope_scan import ScopeOutcome, ScopeScan, run_scope_batch
from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import TampuuriForbidden, TampuuriNotFound
from pipelines.tampuuri.paging import PagedScan
from pipelines.webhooks.refresh_outcome import RefreshHints
from pipelines.webhooks.refresh_store import RefreshStore

HELSINKI = ZoneInfo("Europe/Helsinki")
Details = tuple[list[dict[str, Any]], list[int], list[int]]  # (alive, deleted, forbidden)


@dataclass
class RefreshJob:
    client: TampuuriClient
    engine: Engine
    catalogue: Catalogue
    account: str
    run_id: str
    hints: RefreshHints
    overlap: timedelta
    page_concurrency: int
    max_passes: int
    store: RefreshStore

    async def scan(self, scan: ScopeScan) -> ScopeOutcome:
        """One targeted scan, committed on its own (its scan state recorded only where
        `scan.record_state`: a complete listing of a fan-out parent)."""
        return await run_scope_batch(
            [scan],
            client=self.client,
            catalogue=self.catalogue,
            engine=self.engine,
            account=self.account,
            run_id=self.run_id,
            page_concurrency=self.page_concurrency,
            max_passes=self.max_passes,
            on_page=lambda rows: None,
            tolerate_scope_errors=False,
        )

    async def change_since_items(self, routes: ResourceRoutes) -> list[dict[str, Any]]:
        """The list's rows changed since the oldest event (minus the overlap); every row
        when the events gave no time or the list has no change-since filter."""
        assert routes.list is not None
        filters: dict[str, object] = {}
        since = self.hints.since.get(routes.name)
        if routes.change_since and since is not None:
            filters[routes.change_since] = (since - self.overlap).astimezone(HELSINKI).isoformat()
        paged = PagedScan(
            self.client,
            routes.list,
            filters=filters,
            page_size=self.catalogue.max_page_size,
            concurrency=self.page_concurrency,
            max_passes=self.max_passes,
            id_field=routes.id_field,
        )
        items: list[dict[str, Any]] = []
        async for page in paged.pages():
            items.extend(page.items)
        return items

    async def fetch_details(self, routes: ResourceRoutes, ids: Sequence[int]) -> Details:
        """(alive items, deleted ids, forbidden ids) from one detail call per id."""
        if not ids:
            return [], [], []
        detail = routes.detail
        if detail is None:
            raise ValueError(f"{routes.name}: no detail route in the catalogue")
        (param,) = detail.parameters

        async def one(row_id: int) -> tuple[int, str, Any]:
            try:
                return row_id, "alive", await self.client.call(detail, path_params={param: row_id})
            except TampuuriNotFound:
                return row_id, "deleted", None
            except TampuuriForbidden:
                return row_id, "forbidden", None

        alive: list[dict[str, Any]] = []
        deleted: list[int] = []
        forbidden: list[int] = []
        for row_id, verdict, item in await asyncio.gather(*(one(i) for i in ids)):
            if verdict == "deleted":
                deleted.append(row_id)
            elif verdict == "forbidden":
                forbidden.append(row_id)
            elif isinstance(item, dict):
                alive.append(item)
        return alive, deleted, forbidden

    async def batch_items(
        self, routes: ResourceRoutes, ids: list[int]
    ) -> dict[int, dict[str, Any]]:
        """The many-ids route, ceil(n / max_ids) calls: id -> item for the ids returned."""
        batch = routes.batch
        assert batch is not None and batch.ids_field is not None
        size = batch.max_ids or 100
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        answers = await asyncio.gather(
            *(self.client.call(batch, json={batch.ids_field: chunk}) for chunk in chunks)
        )
        found: dict[int, dict[str, Any]] = {}
        for answer in answers:
            for item in answer if isinstance(answer, list) else []:
                if isinstance(item, dict) and isinstance(item.get(routes.id_field), int):
                    found[item[routes.id_field]] = item
        return found


def returned_ids(items: Sequence[Mapping[str, Any]], id_field: str) -> set[Any]:
    return {item.get(id_field) for item in items}
