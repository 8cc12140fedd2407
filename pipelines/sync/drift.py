"""Locating a drifted list's deletions with a few page reads instead of a full re-scan.

The reconciliation sweep's probe says an account-wide list drifted: its `Total` differs
from the warehouse's active rows. Re-reading the whole list finds out why, at one call
per 250 rows (the link list of a 300-cost-centre portfolio: 79 calls, most nights, since
deleted links fire no webhook). Where the catalogue says the list is `ordered_by_id`, it
can only have changed in two ways: rows added at its end (new ids are higher) and rows
deleted anywhere. So:

1. the end is read once (`tampuuri.tail`): the new rows, and the list's Total;
2. Total minus the new rows, against the warehouse's active rows, is how many rows were
   deleted (D);
3. the deletions are found by bisection over pages: page k of the list starts with the
   warehouse's row at index 250 k + s, where s is the number of rows deleted before it,
   so reading a page's first id tells how many deletions lie before it, and halving the
   pages between two reads with different counts narrows each deletion down to one page,
   whose items then name it; about D x log2(pages) reads;
4. each row found missing is confirmed like any other (`confirm.confirm_missing`: for
   links one `KohdeId` re-scan each), then soft-deleted.

Every read must agree with the assumptions (the same Total throughout, a page starting on a
row the warehouse knows, exactly D rows found); when one does not (rows moved during the
search, an insert below the newest known id, more deletions than a bisection saves), the
locator gives up and the sweep re-reads the whole list as before.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.sync.confirm import confirm_missing
from pipelines.tampuuri.catalogue import ResourceRoutes
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.paging import PagedScan
from pipelines.tampuuri.tail import read_tail
from pipelines.warehouse.loader import MissingRow


@dataclass
class DriftLocation:
    """What the locator found.

    Attributes:
        settled: every difference is accounted for; False: re-scan the list in full.
        reason: why it is not settled.
        new_items: rows added at the list's end.
        deleted: rows confirmed deleted.
        suspect: rows missing that nothing could confirm (a second miss deletes them).
        alive: rows found missing but alive on confirmation (loaded as fresh items).
        calls: pages and confirmations requested.
    """

    settled: bool = False
    reason: str = ""
    new_items: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    suspect: list[int] = field(default_factory=list)
    alive: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0


class _GiveUp(Exception):
    """A read contradicted the assumptions: the list needs a full re-scan."""


def worth_locating(deletions: int, pages: int) -> bool:
    """Whether a bisection (with one confirmation per row) beats re-reading all pages."""
    per_deletion = math.ceil(math.log2(max(2, pages))) + 1
    return deletions > 0 and 2 + deletions * per_deletion < pages


async def locate_drift(
    client: TampuuriClient,
    routes: ResourceRoutes,
    known: Sequence[int],
    scope_values: dict[int, int | None],
    *,
    page_size: int = 250,
) -> DriftLocation:
    """Find the rows added to and deleted from an `ordered_by_id` list.

    Args:
        client: an open client (every read is a billed, ledgered call).
        routes: the list's catalogue entry (`ordered_by_id`, an account-wide list route).
        known: the warehouse's active ids of the list, ascending.
        scope_values: each known id's value of the list's scope filter column (a link's
            object), for confirming deletions by a scoped re-scan.
        page_size: rows per call.
    """
    assert routes.list is not None and routes.ordered_by_id
    found = DriftLocation()
    if not known:
        found.reason = "the warehouse holds no rows of the list"
        return found
    newest = known[-1]
    tail = await read_tail(
        client,
        routes.list,
        newest_id=newest,
        known_rows=len(known),
        id_field=routes.id_field,
        page_size=page_size,
    )
    found.calls += tail.calls
    if not tail.complete or tail.total is None:
        found.reason = f"the list's end: {tail.reason}"
        return found
    found.new_items = tail.items
    old_rows = tail.total - len(tail.items)
    deletions = len(known) - old_rows
    pages = math.ceil(old_rows / page_size)
    if deletions == 0:
        found.settled = True
        return found
    if not worth_locating(deletions, pages):
        found.reason = f"{deletions} rows deleted in {pages} pages: a full re-scan is cheaper"
        return found
    search = _Bisection(client, routes, known, page_size, tail.total, newest)
    try:
        missing = await search.run(pages, deletions)
    except _GiveUp as exc:
        found.reason = str(exc)
        return found
    finally:
        found.calls += search.calls
    rows = [MissingRow(id=i, missing_since=None) for i in missing]
    before = client.calls
    confirmation = await confirm_missing(client, routes, rows, scope_values=scope_values)
    found.calls += client.calls - before
    found.deleted, found.suspect = confirmation.deleted, confirmation.suspect
    found.alive = confirmation.alive
    found.settled = True
    return found


class _Bisection:
    """The page reads of one search, cached; `shift(k)`: rows deleted before page k."""

    def __init__(
        self,
        client: TampuuriClient,
        routes: ResourceRoutes,
        known: Sequence[int],
        page_size: int,
        total: int,
        newest: int,
    ) -> None:
        assert routes.list is not None
        self._scan = PagedScan(client, routes.list, page_size=page_size, id_field=routes.id_field)
        self._id_field = routes.id_field
        self._known = known
        self._page_size = page_size
        self._total = total
        self._newest = newest
        self._pages: dict[int, list[int]] = {}
        self.calls = 0

    async def run(self, pages: int, deletions: int) -> list[int]:
        missing: list[int] = []
        first_shift = await self.shift(0)
        missing.extend(self._known[:first_shift])  # deleted before the list's first row
        await self._search(0, pages, first_shift, deletions, missing)
        if len(missing) != deletions:
            raise _GiveUp(f"found {len(missing)} of {deletions} deleted rows")
        return sorted(missing)

    async def _search(
        self, lo: int, hi: int, shift_lo: int, shift_hi: int, missing: list[int]
    ) -> None:
        if shift_lo == shift_hi:
            return
        if shift_lo > shift_hi:
            raise _GiveUp(f"rows reappeared between pages {lo} and {hi}")
        if hi - lo == 1:
            # Page lo spans the known rows from its first row to the next page's first.
            start = lo * self._page_size + shift_lo
            end = min(len(self._known), hi * self._page_size + shift_hi)
            present = set(await self.page(lo))
            missing.extend(i for i in self._known[start:end] if i not in present)
            return
        mid = (lo + hi) // 2
        shift_mid = await self.shift(mid)
        await self._search(lo, mid, shift_lo, shift_mid, missing)
        await self._search(mid, hi, shift_mid, shift_hi, missing)

    async def shift(self, page_number: int) -> int:
        ids = await self.page(page_number)
        if not ids or ids[0] > self._newest:
            raise _GiveUp(f"page {page_number} holds no row the warehouse knows")
        position = bisect_left(self._known, ids[0])
        if position == len(self._known) or self._known[position] != ids[0]:
            raise _GiveUp(f"row {ids[0]} is in the list but not in the warehouse")
        return position - page_number * self._page_size

    async def page(self, page_number: int) -> list[int]:
        if page_number not in self._pages:
            page = await self._scan._fetch(page_number * self._page_size, self._page_size, 1)
            self.calls += 1
            if page.total != self._total:
                raise _GiveUp(f"Total moved from {self._total} to {page.total} during the search")
            ids = [i for item in page.items if isinstance(i := item.get(self._id_field), int)]
            if len(ids) != len(page.items) or ids != sorted(ids):
                raise _GiveUp("a page without ascending integer ids")
            self._pages[page_number] = ids
        return self._pages[page_number]
