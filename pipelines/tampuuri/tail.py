"""Reading only the end of a list: the rows added since the warehouse last saw the list.

Tampuuri's ids are running integers [SEED] and its lists come in ascending `Id` order
(section 7 of the contract; a catalogue flag, `ordered_by_id`, says so per list), so rows
created since the warehouse's newest row sit at the end of the list. One page read from
just before that point returns all of them: one call for any number of new rows up to
about a page, where re-reading the links of each object named by a webhook costs one call
per object.

Where the end starts is estimated from the warehouse's own count; rows deleted unseen move
it left, which the margin absorbs. The read is trusted only when it provably covers every
row after the newest known id:

- it starts at or before that id: Offset 0, or its first row's id <= the newest known id;
- it reaches the list's end (Offset + rows = Total) without Total moving between pages;
- its pages overlap by one row (each starts on the previous one's last row), so no row at a
  page boundary was skipped by a deletion between the calls;
- its ids ascend (the ordering assumption holds).

Otherwise `TailRead.complete` is False and the caller falls back to its scoped scans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.paging import PagedScan

DEFAULT_MARGIN = 100


@dataclass
class TailRead:
    """The rows after the newest known id, and whether they are provably all of them.

    Attributes:
        items: rows whose id is above the newest known id, in list order.
        complete: the read covered the whole end of the list (see the module docstring).
        calls: pages requested.
        total: the list's Total as the read saw it (None: nothing was read).
        reason: why the read is not complete (for logs and outcomes).
    """

    items: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False
    calls: int = 0
    total: int | None = None
    reason: str = ""


async def read_tail(
    client: TampuuriClient,
    route: Route,
    *,
    newest_id: int,
    known_rows: int,
    id_field: str = "Id",
    page_size: int = 250,
    margin: int | None = None,
    max_pages: int = 4,
    filters: Mapping[str, object] | None = None,
) -> TailRead:
    """Read the list from just before `known_rows - margin` to its end.

    Args:
        client: an open `TampuuriClient` (every page is a billed, ledgered call).
        route: the list route (paged, ascending ids).
        newest_id: the highest id the warehouse holds for this list.
        known_rows: the warehouse's active rows of the list (where the end should start).
        id_field: the items' id key.
        page_size: rows per call (the API's maximum, 250).
        margin: rows read before the estimated start, for rows deleted unseen
            (None: `DEFAULT_MARGIN`).
        max_pages: give up (complete False) rather than read more pages than this.
        filters: extra query or body filters of the list.
    """
    paged = PagedScan(client, route, filters=filters, page_size=page_size, id_field=id_field)
    read = TailRead()
    margin = DEFAULT_MARGIN if margin is None else margin
    offset = max(0, known_rows - min(margin, page_size - 1))
    total: int | None = None
    previous_id: int | None = None
    for page_number in range(max_pages):
        page = await paged._fetch(offset, page_size, 1)
        read.calls += 1
        if total is None:
            total = read.total = page.total
        elif page.total != total:
            read.reason = f"Total moved from {total} to {page.total} during the read"
            return read
        ids = [i for item in page.items if isinstance(i := item.get(id_field), int)]
        if len(ids) != len(page.items):
            read.reason = f"an item without an integer {id_field}"
            return read
        if page_number == 0 and offset > 0 and (not ids or ids[0] > newest_id):
            read.reason = "the read started after the newest known row (more rows deleted unseen)"
            return read
        if page_number > 0 and ids and previous_id is not None and ids[0] > previous_id:
            # Pages overlap by one row: a later first row means rows before it were
            # deleted between the calls, and the row at the boundary may be unread.
            read.reason = "rows moved between two pages of the read"
            return read
        if any(a >= b for a, b in pairwise(ids)):
            read.reason = "ids do not ascend: the list is not ordered by id"
            return read
        for item_id, item in zip(ids, page.items, strict=True):
            if previous_id is not None and item_id <= previous_id:
                continue  # the overlap row, read already
            previous_id = item_id
            if item_id > newest_id:
                read.items.append(item)
        end = page.offset + len(page.items)
        if end >= total or not page.items:
            read.complete = end >= total
            read.reason = "" if read.complete else "an empty page before the end"
            return read
        offset = end - 1 if len(page.items) > 1 else end
    read.reason = f"more than {max_pages} pages of new rows"
    return read
