"""Targeted refresh: re-read exactly the rows webhook events named, as cheaply as possible.

A notification carries only an id; the data comes from the API, and every call is billed.
Per (resource, action) the cheapest way the route catalogue offers is taken:

- ilmoitukset: more than one id and a change-since filter -> ONE change-since list scan
  from the oldest event's time minus the overlap; ids it did not return get a detail call
  (404: soft delete). One id -> one detail call.
- kustannuspaikat: a change-since list scan (its detail route `kohteet/{id}` answers the
  *object* shape, not the list shape, so it must never overwrite a cost-centre row).
- kohteet: ids grouped by cost centre; `scope_listing_threshold` or more refreshes in one
  cost centre -> one complete scope scan (`run_scope_batch`, deletions confirmed as in the
  nightly sync); otherwise one detail call per id (200 upsert, 404 soft delete, 403
  skipped and reported).
- osapuolet: the batch route, ceil(n / max_ids) calls; returned -> upsert, absent -> delete.
- osapuoli_yhteydet (refresh_links, "a new link"): where the catalogue says the list is
  `ordered_by_id`, ONE read of the list's end (`tampuuri.tail`) brings every link newer
  than the warehouse's newest, however many objects the events named; when that read
  cannot prove it saw them all, one `KohdeId`-filtered link scan per object. Nested
  parties are upserted, never deleted (links do not speak for a party's existence).

Every write goes through `ScopeLoad`, the nightly sync's loader: same history, same
freshness guard (an older `Muokattu` never overwrites a newer row, so an event that
arrives late cannot roll a row back). Targeted scans never move the nightly cursors or
totals (`ScopeScan.record_state=False`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from pipelines.sync.scope_scan import NestedRows, ScopeOutcome, ScopeScan, run_scope_batch
from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import (
    RetryBudgetExceeded,
    TampuuriError,
    TampuuriForbidden,
    TampuuriNotFound,
)
from pipelines.tampuuri.paging import PagedScan
from pipelines.tampuuri.tail import read_tail
from pipelines.warehouse.loader import LoadCounts, Scope
from pipelines.webhooks.refresh_outcome import RefreshHints, RefreshOutcome, TargetOutcome
from pipelines.webhooks.refresh_store import RefreshStore

HELSINKI = ZoneInfo("Europe/Helsinki")
LINKS = "osapuoli_yhteydet"
DEFAULT_OVERLAP = timedelta(minutes=10)
TargetKey = tuple[str, str]  # (resource, action)
__all__ = ["RefreshHints", "RefreshOutcome", "TargetOutcome", "expected_calls", "refresh_targets"]


async def refresh_targets(
    client: TampuuriClient,
    engine: Engine,
    catalogue: Catalogue,
    account: str,
    targets: Mapping[TargetKey, Sequence[int]],
    *,
    run_id: str,
    scope_listing_threshold: int = 2,
    hints: RefreshHints | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    page_concurrency: int = 4,
    max_passes: int = 3,
) -> RefreshOutcome:
    """Refresh the rows named by (resource, action) -> ids for one account.

    Never raises for API failures: a target that fails lists its ids in `failed` with the
    error (free of secrets), and its writes are rolled back; other targets go on.
    A spent retry budget or an authentication error fails every remaining target.

    Args:
        client: an open client of the account (its ledger records every call).
        engine: the warehouse.
        catalogue: the route catalogue.
        account: the account label (warehouse name).
        targets: (resource, action) -> ids; action is refresh, delete or refresh_links.
        run_id: recorded on the history versions written.
        scope_listing_threshold: refreshes of objects in one cost centre that make one
            scope listing cheaper than one detail call each.
        hints: event timestamps and cost centres (see `RefreshHints`).
        overlap: change-since scans re-read this much before the oldest event.
        page_concurrency: pages of one listing in flight at once.
        max_passes: passes of a listing whose Total drifts.
    """
    job = _Refresh(
        client=client,
        engine=engine,
        catalogue=catalogue,
        account=account,
        run_id=run_id,
        threshold=max(1, scope_listing_threshold),
        hints=hints or RefreshHints(),
        overlap=overlap,
        page_concurrency=page_concurrency,
        max_passes=max_passes,
        store=RefreshStore(engine, account, run_id),
    )
    outcome = RefreshOutcome(account=account)
    fatal: str | None = None
    for (resource, action), ids in sorted(targets.items(), key=_order):
        target = TargetOutcome(resource=resource, action=action)
        outcome.targets.append(target)
        wanted = sorted(set(ids))
        if fatal is not None:
            target.failed, target.error = wanted, fatal
            continue
        before = client.calls
        try:
            await job.run(target, wanted)
        except (RetryBudgetExceeded, TampuuriError, OSError) as exc:
            target.failed = sorted(set(wanted) - set(target.skipped))
            target.done = []
            target.counts = LoadCounts()
            target.error = str(exc) or type(exc).__name__
            if isinstance(exc, RetryBudgetExceeded) or getattr(exc, "status", None) == 401:
                fatal = target.error
        finally:
            target.calls = client.calls - before
    return outcome


def _order(item: tuple[TargetKey, Sequence[int]]) -> tuple[int, str, str]:
    # Cost centres first, parties before links (a link's nested party then stays fresh).
    rank = {"kustannuspaikat": 0, "kohteet": 1, "osapuolet": 2, LINKS: 3, "ilmoitukset": 4}
    resource, action = item[0]
    return rank.get(resource, 9), resource, action


@dataclass
class _Refresh:
    client: TampuuriClient
    engine: Engine
    catalogue: Catalogue
    account: str
    run_id: str
    threshold: int
    hints: RefreshHints
    overlap: timedelta
    page_concurrency: int
    max_passes: int
    store: RefreshStore

    async def run(self, target: TargetOutcome, ids: list[int]) -> None:
        routes = self.catalogue.resources[target.resource]
        if target.action == "refresh_links":
            await self._links(target, routes, ids)
        elif target.resource == "osapuolet" and routes.batch is not None:
            await self._batch(target, routes, ids)
        elif target.resource == "kohteet":
            await self._objects(target, routes, ids)
        elif target.resource == "kustannuspaikat":
            await self._cost_centres(target, routes, ids)
        elif (
            target.action == "refresh"
            and len(ids) > 1
            and routes.change_since
            and target.resource in self.hints.since
        ):
            await self._change_since_then_detail(target, routes, ids)
        else:
            await self._details(target, routes, ids)

    # ---- strategies ----------------------------------------------------------------------
    async def _details(self, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]) -> None:
        """One detail call per id: 200 upsert, 404 soft delete, 403 skipped."""
        target.strategy = target.strategy or "detail"
        alive, deleted, forbidden = await self._fetch_details(routes, ids)
        target.counts = target.counts + await asyncio.to_thread(
            self.store.write, routes.name, alive, deleted
        )
        target.skipped.extend(forbidden)
        target.done.extend(sorted(set(ids) - set(forbidden)))

    async def _change_since_then_detail(
        self, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]
    ) -> None:
        """One change-since listing; ids it did not return get a detail call."""
        target.strategy = "change_since"
        items = await self._change_since_items(routes)
        returned = {item.get(routes.id_field) for item in items}
        rest = [i for i in ids if i not in returned]
        alive, deleted, forbidden = (
            await self._fetch_details(routes, rest) if rest else ([], [], [])
        )
        target.counts = await asyncio.to_thread(
            self.store.write, routes.name, [*items, *alive], deleted
        )
        target.skipped.extend(forbidden)
        target.done.extend(sorted(set(ids) - set(forbidden)))

    async def _cost_centres(
        self, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]
    ) -> None:
        """A change-since listing (a full listing without a filter); never the detail route."""
        target.strategy = "change_since" if routes.change_since else "listing"
        items = await self._change_since_items(routes)
        returned = {item.get(routes.id_field) for item in items}
        target.counts = await asyncio.to_thread(self.store.write, routes.name, items, [])
        target.unconfirmed.extend(i for i in ids if i not in returned)
        target.done.extend(ids)

    async def _batch(self, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]) -> None:
        """The many-ids route: returned parties are upserted, absent ones soft-deleted."""
        batch = routes.batch
        assert batch is not None and batch.ids_field is not None
        target.strategy = "batch"
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
        wanted = set(ids)
        alive = [item for item_id, item in found.items() if item_id in wanted]
        deleted = [i for i in ids if i not in found]
        target.counts = await asyncio.to_thread(self.store.write, routes.name, alive, deleted)
        target.done.extend(ids)

    async def _objects(self, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]) -> None:
        """Objects: a scope listing for cost centres with many refreshes, else details."""
        by_cc = await asyncio.to_thread(self._cost_centres_of, ids)
        singles: list[int] = []
        listings: dict[int, list[int]] = {}
        for cc, members in sorted(by_cc.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            listable = (
                cc is not None
                and target.action == "refresh"
                and routes.list is not None
                and len(members) >= self.threshold
            )
            if listable:
                assert cc is not None
                listings[cc] = members
            else:
                singles.extend(members)
        for cc, members in listings.items():
            target.strategy = "scope_listing"
            try:
                leftovers = await self._scope_listing(target, routes, cc, members)
            except TampuuriForbidden:
                # No object right to the whole cost centre: its objects are not readable.
                target.skipped.extend(members)
                continue
            except TampuuriNotFound:
                # The cost centre itself is gone: ask about each object.
                leftovers = members
            singles.extend(leftovers)
        if singles:
            await self._details(target, routes, sorted(singles))

    async def _links(self, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]) -> None:
        """New links from the list's end, else one KohdeId-filtered scan per object."""
        assert routes.list is not None and routes.scope_filter is not None
        if routes.ordered_by_id and await self._links_from_tail(target, routes, ids):
            return
        target.strategy = "filtered_listing"
        nested = tuple(
            NestedRows(table=table, field=field_name, find_deletions=False)
            for table, field_name in routes.nested.items()
        )
        for object_id in ids:
            scan = ScopeScan(
                resource=routes.name,
                route=routes.list,
                filters={routes.scope_filter: object_id},
                scope=Scope("kohde_id", (object_id,)),
                nested=nested,
                record_state=False,
            )
            try:
                result = await self._scan(scan)
            except TampuuriForbidden:
                target.skipped.append(object_id)
                continue
            target.counts = target.counts + result.counts
            target.done.append(object_id)

    async def _links_from_tail(
        self, target: TargetOutcome, routes: ResourceRoutes, ids: list[int]
    ) -> bool:
        """One read of the link list's end; False when it cannot prove completeness."""
        assert routes.list is not None
        newest, known = await asyncio.to_thread(self.store.link_extent)
        if newest is None:
            return False
        try:
            read = await read_tail(
                self.client,
                routes.list,
                newest_id=newest,
                known_rows=known,
                id_field=routes.id_field,
                page_size=self.catalogue.max_page_size,
            )
        except TampuuriForbidden:
            return False  # no right to the whole list: the per-object scans skip and report
        if not read.complete:
            target.fallback = read.reason
            return False
        target.strategy = "tail"
        target.counts = target.counts + await asyncio.to_thread(
            self.store.write_with_nested, routes, read.items
        )
        target.done.extend(ids)
        return True

    # ---- building blocks -----------------------------------------------------------------
    async def _scope_listing(
        self, target: TargetOutcome, routes: ResourceRoutes, cc: int, members: list[int]
    ) -> list[int]:
        """A complete scan of one cost centre; returns the ids it could not settle."""
        assert routes.list is not None
        (param,) = routes.list.parameters
        in_scope = set(await asyncio.to_thread(self.store.active_in_scope, cc))
        seen: set[int] = set()

        def observe(item: Mapping[str, Any]) -> bool:
            value = item.get(routes.id_field)
            if isinstance(value, int):
                seen.add(value)
            return True

        scan = ScopeScan(
            resource=routes.name,
            route=routes.list,
            path_params={param: cc},
            scope=Scope("kustannuspaikka_id", (cc,)),
            state_scope=str(cc),
            keep=observe,
            changed_field=routes.changed_field,
            record_state=False,
        )
        result = await self._scan(scan)
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

    async def _scan(self, scan: ScopeScan) -> ScopeOutcome:
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

    async def _change_since_items(self, routes: ResourceRoutes) -> list[dict[str, Any]]:
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

    async def _fetch_details(
        self, routes: ResourceRoutes, ids: Sequence[int]
    ) -> tuple[list[dict[str, Any]], list[int], list[int]]:
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

    def _cost_centres_of(self, ids: list[int]) -> dict[int | None, list[int]]:
        """Ids grouped by cost centre: the event's hint, else the stored row's."""
        hinted = self.hints.cost_centres.get("kohteet", {})
        stored = self.store.cost_centres_of(ids)
        groups: dict[int | None, list[int]] = {}
        for row_id in ids:
            groups.setdefault(hinted.get(row_id, stored.get(row_id)), []).append(row_id)
        return groups


def expected_calls(catalogue: Catalogue, targets: Mapping[TargetKey, Sequence[int]]) -> int:
    """A budget estimate of `refresh_targets` (one page per listing, no retries)."""
    calls = 0
    for (resource, action), ids in targets.items():
        n = len(set(ids))
        routes = catalogue.resources.get(resource)
        if routes is None or n == 0:
            continue
        if action == "refresh_links" and routes.ordered_by_id:
            calls += 1  # one read of the list's end
        elif action == "refresh_links" or resource == "kohteet":
            calls += n
        elif routes.batch is not None and routes.batch.max_ids:
            calls += math.ceil(n / routes.batch.max_ids)
        elif resource == "kustannuspaikat" or (n > 1 and routes.change_since):
            calls += 1
        else:
            calls += n
    return calls
