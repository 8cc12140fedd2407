"""The one paging scheme: Offset/Limit pages of a `PagingMetadataResponseOf<T>` envelope.

`PagedScan` fetches Offset 0 first to learn `Total`, then the remaining offsets
concurrently, and yields pages as they arrive. Exactly ceil(Total / Limit) calls per
pass, at least one.

Offset paging over a table that changes mid-scan can skip or repeat rows [SEED: the API
says nothing about stability]. A pass is *drifted* when any page reports a `Total`
different from the first page's, or holds a number of items inconsistent with it. A
drifted pass is followed by another full pass, up to `max_passes`; every pass's pages are
yielded (the loader dedupes by id). `ScanResult.complete` is True only when the final pass
was stable: a caller must not treat rows missing from an incomplete scan as deleted.

The loop guard raises `PagingError` when the API echoes another Offset than asked, returns
an empty page before the end, or returns the same page for two offsets.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.errors import PagingError


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
class Page:
    """One page as the API answered it (Offset/Limit/Total are the envelope's echoes)."""

    offset: int
    limit: int
    total: int
    items: list[dict[str, Any]]
    pass_number: int = 1


@dataclass(frozen=True)
class ScanResult:
    """How a scan went.

    Attributes:
        complete: The final pass saw the same Total on every page, with consistent counts.
        total: The Total of the final pass's first page.
        pages: Pages fetched over all passes.
        passes: Passes made.
        drifted: Some pass drifted (with complete=True, a later pass recovered).
    """

    complete: bool
    total: int
    pages: int
    passes: int
    drifted: bool


class PagedScan:
    """A full scan of one paged list route.

    Args:
        client: A `TampuuriClient` (anything with its `call`).
        route: A catalogue route with `paging` set.
        path_params: Values for the route's path parameters (a fan-out scope).
        filters: List filters, merged with Offset/Limit into the query or body.
        page_size: The Limit asked for (the API clamps it; the envelope's echo is used).
        concurrency: Pages of this scan in flight at once after the first.
        max_passes: Full passes allowed when Total drifts.
        id_field: Item key used to recognise a repeated page.
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
        self._result: ScanResult | None = None

    @property
    def result(self) -> ScanResult:
        """The outcome; available once `pages()` has been iterated to the end."""
        if self._result is None:
            raise RuntimeError("the scan has not finished: iterate pages() to the end first")
        return self._result

    async def pages(self) -> AsyncIterator[Page]:
        """Yield every page of every pass, in completion order (not offset order)."""
        fetched = 0
        ever_drifted = False
        for pass_number in range(1, self._max_passes + 1):
            state = _PassState(self, pass_number)
            first = await self._fetch(0, self._page_size, pass_number)
            state.check(first, asked_offset=0)
            fetched += 1
            yield first
            limit = first.limit
            async for page in self._rest(first.total, limit, pass_number, state):
                fetched += 1
                yield page
            ever_drifted = ever_drifted or state.drifted
            if not state.drifted or pass_number == self._max_passes:
                self._result = ScanResult(
                    complete=not state.drifted,
                    total=first.total,
                    pages=fetched,
                    passes=pass_number,
                    drifted=ever_drifted,
                )
                return

    async def _rest(
        self, total: int, limit: int, pass_number: int, state: _PassState
    ) -> AsyncIterator[Page]:
        """Offsets after the first, at most `concurrency` in flight, yielded as they land."""
        # Total 0 ends the pass after the first page, whatever Limit was echoed.
        offsets = iter(range(limit, total, limit) if total > 0 else ())
        running: dict[asyncio.Task[Page], int] = {}

        def launch() -> None:
            for offset in offsets:
                running[asyncio.ensure_future(self._fetch(offset, limit, pass_number))] = offset
                if len(running) >= self._concurrency:
                    return

        try:
            launch()
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                # Deterministic order among pages that landed together.
                for task in sorted(done, key=running.__getitem__):
                    offset = running.pop(task)
                    page = task.result()
                    state.check(page, asked_offset=offset)
                    yield page
                launch()
        finally:
            # An error (or the consumer stopping) leaves siblings in flight: cancel them
            # and wait, so none outlives the scan (each still lands in the call ledger).
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _fetch(self, offset: int, limit: int, pass_number: int) -> Page:
        paging = {"Offset": offset, "Limit": limit}
        if self._route.paging == "body":
            answer = await self._client.call(
                self._route, path_params=self._path_params, json={**self._filters, **paging}
            )
        else:
            answer = await self._client.call(
                self._route, path_params=self._path_params, params={**self._filters, **paging}
            )
        return _envelope(answer, offset, limit, pass_number, self._error)

    def _error(self, problem: str) -> PagingError:
        return PagingError(
            account=self._client.account_name,
            method=self._route.method,
            route=self._route.template,
            api_message=problem,
        )


class _PassState:
    """What one pass has seen: its Total, page signatures, and whether it drifted."""

    def __init__(self, scan: PagedScan, pass_number: int) -> None:
        self._scan = scan
        self.pass_number = pass_number
        self.total: int | None = None
        self.drifted = False
        self._signatures: dict[tuple[object, ...], int] = {}

    def check(self, page: Page, *, asked_offset: int) -> None:
        fail = self._scan._error
        if page.offset != asked_offset:
            raise fail(f"asked Offset {asked_offset}, the API answered Offset {page.offset}")
        if self.total is None:
            self.total = page.total
        if page.limit < 1 and self.total > 0:
            raise fail(f"the API answered Limit {page.limit} at Offset {page.offset}")
        if page.total != self.total:
            self.drifted = True
        expected = max(0, min(page.limit, self.total - page.offset))
        if not page.items and expected > 0 and page.total == self.total:
            # Total says rows remain, yet the page is empty: following it would loop or
            # silently lose rows.
            raise fail(f"empty page at Offset {page.offset} of Total {self.total}")
        if len(page.items) != expected:
            self.drifted = True
        signature = tuple(item.get(self._scan._id_field) for item in page.items)
        if signature and None not in signature:
            seen_at = self._signatures.setdefault(signature, page.offset)
            if seen_at != page.offset:
                raise fail(f"the page at Offset {page.offset} repeats the page at Offset {seen_at}")


def _envelope(answer: Any, offset: int, limit: int, pass_number: int, error: Any) -> Page:
    """Read `{"Offset", "Limit", "Total", "Items"}` (keys matched case-insensitively)."""
    if not isinstance(answer, dict):
        raise error(f"expected a paging envelope, got {type(answer).__name__}")
    fields = {str(k).lower(): v for k, v in answer.items()}
    items = fields.get("items")
    total = fields.get("total")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise error("paging envelope without an Items list of objects")
    if not _is_int(total) or total < 0:
        raise error("paging envelope without a valid Total")
    echoed_offset = fields.get("offset", offset)
    echoed_limit = fields.get("limit", limit)
    if not _is_int(echoed_offset) or not _is_int(echoed_limit):
        raise error("paging envelope with a non-integer Offset or Limit")
    return Page(
        offset=echoed_offset,
        limit=echoed_limit,
        total=total,
        items=items,
        pass_number=pass_number,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def expected_calls(total: int, page_size: int = 250) -> int:
    """Calls one stable pass makes for `total` rows: ceil(total / page_size), at least 1."""
    return max(1, math.ceil(total / page_size))


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
