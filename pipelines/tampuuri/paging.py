"""The one paging scheme: Offset/Limit pages of a `PagingMetadataResponseOf<T>` envelope.

`PagedScan` fetches Offset 0 first to learn `Total` and the clamped `Limit` (L), then the
remaining pages concurrently, and yields pages as they arrive. Pages overlap by one row:
page k starts at Offset k x (L - 1), so its first row is page k-1's last. A stable pass of
T rows takes `expected_calls(T)` = 1 + ceil((T - L) / (L - 1)) calls for T > L, else 1:
402 calls for 100,000 rows where ceil(T / L) is 400 (at most 1 % more above 25,000 rows).

Offset paging over a table that changes mid-scan can skip rows: a row already read is
deleted, every later row moves one place earlier, and the row at the next page boundary is
never read, while an insert further on can leave `Total` where it started. Lists come in
ascending `Id` order (section 7 of the contract, checked on every page), so the overlap row
proves each boundary: `page_cover` says whether the pages read chain from the list's start
to its end. Where they do not, the gap is repaired in the same scan by re-reading pages
just before it (and onward, if the list grew), at most (max_passes - 1) x max(2, planned
pages) extra calls. `ScanResult.complete` is True only when the pages provably cover every
row that existed throughout the scan: a caller must not treat rows missing from an
incomplete scan as deleted.

A list whose ids do not ascend falls back to the Total rule: a pass is *drifted* when any
page reports a `Total` different from the first page's, or holds a number of items
inconsistent with it, and is followed by another full pass, up to `max_passes`; complete
only when the final pass was stable.

Each row is yielded once per scan (the overlap row and re-read rows are dropped from the
later pages). The loop guard raises `PagingError` when the API echoes another Offset than
asked, returns an empty page before the end, or returns the same page for two offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.errors import PagingError
from pipelines.tampuuri.page_cover import GapRepair, Span, span_of
from pipelines.tampuuri.paging_pass import (
    PAGING_RULE,
    Page,
    PassState,
    expected_calls,
    read_envelope,
)

__all__ = ["PAGING_RULE", "Page", "PagedScan", "ScanResult", "expected_calls", "probe_total"]


class _Caller(Protocol):
    account_name: str

    async def call(
        self,
        route: Route,
        *,
        path_params: Mapping[str, object] | None = None,
        params: Mapping[str, object] | None = None,
        json: object = None,
    ) -> Any: ...


@dataclass(frozen=True)
class ScanResult:
    """How a scan went.

    Attributes:
        complete: Every row that existed throughout the scan was read (id-ordered lists),
            or the final pass saw the same Total on every page with consistent counts.
        total: The Total of the latest page read (id-ordered), or of the final pass's first.
        pages: Pages fetched over all passes.
        passes: Passes made.
        drifted: The list changed during the scan (with complete=True, it was recovered).
        repairs: Pages re-read to close gaps between overlapping pages.
    """

    complete: bool
    total: int
    pages: int
    passes: int
    drifted: bool
    repairs: int = 0


class PagedScan:
    """A full scan of one paged list route.

    Args:
        client: A `TampuuriClient` (anything with its `call`).
        route: A catalogue route with `paging` set.
        path_params: Values for the route's path parameters (a fan-out scope).
        filters: List filters, merged with Offset/Limit into the query or body.
        page_size: The Limit asked for (the API clamps it; the envelope's echo is used).
        concurrency: Pages of this scan in flight at once after the first.
        max_passes: Bounds the work drift may add: full passes under the Total rule, and
            (max_passes - 1) x max(2, planned pages) repair reads for id-ordered lists.
        id_field: Item key of the ids (ordering, overlap, a repeated page).
        ordered_by_id: Whether the list may be proven by its ids (section 7: ascending);
            ids that do not ascend fall back to the Total rule anyway.
    """

    def __init__(
        self,
        client: _Caller,
        route: Route,
        *,
        path_params: Mapping[str, object] | None = None,
        filters: Mapping[str, object] | None = None,
        page_size: int = 250,
        concurrency: int = 4,
        max_passes: int = 3,
        id_field: str = "Id",
        ordered_by_id: bool = True,
    ) -> None:
        if route.paging is None:
            raise ValueError(f"{route.method} {route.template} is not a paged route")
        if page_size < 1 or concurrency < 1 or max_passes < 1:
            raise ValueError("page_size, concurrency and max_passes must be at least 1")
        self._client = client
        self._route = route
        self._path_params = dict(path_params or {})
        self._filters = dict(filters or {})
        self._page_size = page_size
        self._concurrency = concurrency
        self._max_passes = max_passes
        self._id_field = id_field
        self._ordered = ordered_by_id
        self._result: ScanResult | None = None
        self._seen: set[int] = set()
        self._fetched = 0

    @property
    def result(self) -> ScanResult:
        """The outcome; available once `pages()` has been iterated to the end."""
        if self._result is None:
            raise RuntimeError("the scan has not finished: iterate pages() to the end first")
        return self._result

    async def pages(self) -> AsyncIterator[Page]:
        """Yield every page read, in completion order (not offset order), rows once each."""
        ever_drifted = False
        for pass_number in range(1, self._max_passes + 1):
            state = PassState(self._error, self._id_field, pass_number, ordered=self._ordered)
            async for page in self._pass(state):
                yield page
            if state.spans is not None and state.step == state.limit - 1:
                async for page in self._repair(state, state.spans):
                    yield page
                return
            ever_drifted = ever_drifted or state.drifted
            if not state.drifted or pass_number == self._max_passes:
                self._result = ScanResult(
                    complete=not state.drifted,
                    total=state.first_total,
                    pages=self._fetched,
                    passes=pass_number,
                    drifted=ever_drifted,
                )
                return

    async def _pass(self, state: PassState) -> AsyncIterator[Page]:
        """Offset 0, then the overlapping offsets its Total asks for, `concurrency` at a time."""
        first = await self._fetch(0, self._page_size, state.pass_number)
        state.check(first, asked_offset=0)
        state.start(first)
        # Total 0 ends the pass after the first page, whatever Limit was echoed.
        total, limit, step = first.total, first.limit, state.step
        offsets = iter(range(step, total - limit + step, step) if total > 0 else ())
        running: dict[asyncio.Task[Page], int] = {}

        def launch() -> None:
            for offset in offsets:
                task = asyncio.ensure_future(self._fetch(offset, limit, state.pass_number))
                running[task] = offset
                if len(running) >= self._concurrency:
                    return

        try:
            launch()  # before the first page is handed on (the reason is below)
            yield self._fresh(first)
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                # Deterministic order among pages that landed together; each is checked
                # before more are asked for, as the pages were one by one.
                landed = []
                for task in sorted(done, key=running.__getitem__):
                    page = task.result()
                    state.check(page, asked_offset=running.pop(task))
                    landed.append(page)
                # The next pages are asked for before these are handed on: the calls stay
                # in flight while the consumer encodes and stages them (at most
                # `concurrency` more pages wait in memory, however long that takes).
                launch()
                for page in landed:
                    yield self._fresh(page)
        finally:
            # An error (or the consumer stopping) leaves siblings in flight: cancel them
            # and wait, so none outlives the scan (each still lands in the call ledger).
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _repair(self, state: PassState, spans: list[Span]) -> AsyncIterator[Page]:
        """Re-read where the pages' chain breaks until it reaches the end, within bounds."""
        repair = GapRepair(
            spans, step=state.step, budget=(self._max_passes - 1) * max(2, state.planned)
        )
        while not repair.done:
            offset = repair.next_offset()
            page = await self._fetch(offset, state.limit, state.pass_number)
            state.check_offset(page, asked_offset=offset)
            state.latest_total = page.total
            span = span_of(page.offset, page.total, page.items, self._id_field, len(spans))
            yield self._fresh(page)
            if span is None:  # the ids stopped ascending: nothing more can be proven
                repair.reads += 1
                break
            repair.record(offset, span)
        self._result = ScanResult(
            complete=repair.gap.complete,
            total=state.latest_total,
            pages=self._fetched,
            passes=1,
            drifted=state.drifted or repair.reads > 0,
            repairs=repair.reads,
        )

    def _fresh(self, page: Page) -> Page:
        """The page without rows this scan has already yielded (the overlap row, re-reads)."""
        items = []
        for item in page.items:
            key = item.get(self._id_field)
            if isinstance(key, int):
                if key in self._seen:
                    continue
                self._seen.add(key)
            items.append(item)
        return page if len(items) == len(page.items) else replace(page, items=items)

    async def _fetch(self, offset: int, limit: int, pass_number: int) -> Page:
        paging = {"Offset": offset, "Limit": limit}
        self._fetched += 1
        if self._route.paging == "body":
            answer = await self._client.call(
                self._route, path_params=self._path_params, json={**self._filters, **paging}
            )
        else:
            answer = await self._client.call(
                self._route, path_params=self._path_params, params={**self._filters, **paging}
            )
        return read_envelope(answer, offset, limit, pass_number, self._error)

    def _error(self, problem: str) -> PagingError:
        return PagingError(
            account=self._client.account_name,
            method=self._route.method,
            route=self._route.template,
            api_message=problem,
        )


async def probe_total(
    client: _Caller,
    route: Route,
    *,
    path_params: Mapping[str, object] | None = None,
    filters: Mapping[str, object] | None = None,
) -> int:
    """One `Limit=1` call that returns the route's Total (budget planning, reconciliation)."""
    scan = PagedScan(client, route, path_params=path_params, filters=filters, page_size=1)
    page = await scan._fetch(0, 1, 1)
    return page.total
