"""Whether the pages of an id-ordered list cover every row that existed throughout a scan.

A page is a contiguous run of the list, in ascending id order, as it was at the moment it
was read. Two pages whose id ranges overlap (the later one in id order starts at or before
the other's last id) leave no room between them for a row that existed when both were
read: a row below the first page's last id was in the first page, a row above it in the
second. So the union of some pages covers every row that existed throughout the scan when,
sorted by first id, their id ranges chain from a page read at Offset 0 (nothing comes
before it) to a page that reached the list's end (nothing comes after it), each overlapping
the range covered so far. This holds whatever order the pages were read in, and whatever
was inserted or deleted between the reads.

Pages are laid out to overlap by one row (page k at Offset k x (Limit - 1)), so a list
that does not change chains by construction. A deletion before a page boundary between two
reads shifts the later page one row on: the chain breaks there (a *gap*), and `GapRepair`
says where to read again so that the new page starts at or before the covered end: where
the latest read page that holds it put it, moved back by the rows the list lost since and
by a few rows of slack (deletions paired with inserts move it back unseen by `Total`);
a read that lands past it shows, by where one of its rows sat before, how far to go back.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any


@dataclass(frozen=True)
class Span:
    """One read page's place in the list.

    Attributes:
        offset: the page's Offset.
        ids: its ids, ascending.
        total: the list's Total when it was read.
        seq: the read's order in the scan (later reads know the list better).
    """

    offset: int
    ids: tuple[int, ...] = field(repr=False)
    total: int
    seq: int = 0

    @property
    def count(self) -> int:
        return len(self.ids)

    @property
    def first(self) -> int:
        return self.ids[0]

    @property
    def last(self) -> int:
        return self.ids[-1]

    @property
    def at_end(self) -> bool:
        """It reached the list's end when read: Offset + rows >= its Total (a short page
        that its own Total contradicts proves nothing)."""
        return self.offset + self.count >= self.total

    def index_of(self, row_id: int) -> int | None:
        """Where `row_id` sat in the list when this page was read (None: not in it)."""
        at = bisect_right(self.ids, row_id) - 1
        return self.offset + at if at >= 0 and self.ids[at] == row_id else None


def span_of(
    offset: int, total: int, items: Sequence[dict[str, Any]], id_field: str, seq: int = 0
) -> Span | None:
    """The page's span, or None when its ids are not ascending integers (not id-ordered)."""
    ids = [i for item in items if isinstance(i := item.get(id_field), int)]
    if len(ids) != len(items) or any(a >= b for a, b in pairwise(ids)):
        return None
    return Span(offset=offset, ids=tuple(ids), total=total, seq=seq)


@dataclass(frozen=True)
class Cover:
    """How far the pages read so far chain from the list's start.

    Attributes:
        complete: the chain reaches the list's end: every row that existed throughout was read.
        reach: the highest id covered without a gap from the start.
        beyond: the first page past the gap (None: the end is not covered yet).
    """

    complete: bool
    reach: int = 0
    beyond: Span | None = None


def cover(spans: Sequence[Span]) -> Cover:
    """Chain the spans from the start (any read at Offset 0) as far as they overlap."""
    starts = [s for s in spans if s.offset == 0]
    if not starts:
        return Cover(complete=False)
    if any(s.count == 0 or s.at_end for s in starts):
        return Cover(complete=True)  # an empty list has no row that existed throughout
    reach = max(s.last for s in starts)
    for span in sorted((s for s in spans if s.count), key=lambda s: (s.first, s.offset)):
        if span.first > reach:
            return Cover(complete=False, reach=reach, beyond=span)
        reach = max(reach, span.last)
        if span.at_end:
            return Cover(complete=True)
    return Cover(complete=False, reach=reach)


class GapRepair:
    """Re-reads that close the gaps of a pass, at most `budget` of them."""

    def __init__(self, spans: list[Span], *, step: int, budget: int) -> None:
        self.spans = spans
        self.step = step
        self.budget = budget
        self.reads = 0
        self.gap = cover(spans)
        self._forced: int | None = None
        self._back = 1

    @property
    def done(self) -> bool:
        return self.gap.complete or self.reads >= self.budget

    def next_offset(self) -> int:
        """Where to read next: the forced Offset of a failed try, else the estimate."""
        if self._forced is not None:
            return self._forced
        return self._estimate(self.gap)

    def record(self, offset: int, span: Span) -> None:
        """Account one re-read page and decide what the next try must do differently."""
        before = self.gap
        self.reads += 1
        self.spans.append(span)
        self.gap = cover(self.spans)
        self._forced = None
        if self.gap.complete or self.gap.reach > before.reach:
            self._back = 1
        elif span.count and span.first <= before.reach:
            self._forced = offset + self.step  # wholly before the covered end: read on
        else:  # past it: rows before it were deleted since the pages it is known from
            moved = self._moved(span, offset) if span.count else 0
            self._forced = max(0, offset - max(self._back, moved))
            self._back *= 2

    def _estimate(self, gap: Cover) -> int:
        latest = max(self.spans, key=lambda s: s.seq)
        # Pages that hold the covered end (one always does: it is a page's last id).
        known = [s for s in self.spans if s.count and s.first <= gap.reach <= s.last]
        recent = max(known, key=lambda s: s.seq)
        # The covered end's row (or the last row before it) in the latest page reaching it.
        estimate = recent.offset + bisect_right(recent.ids, gap.reach) - 1
        estimate += min(0, latest.total - recent.total)
        if gap.beyond is not None:  # it sat before the page past the gap
            beyond = gap.beyond.offset - 1 + min(0, latest.total - gap.beyond.total)
            estimate = min(estimate, beyond)
        # A few rows earlier still: deletions that no Total shows (each came with an
        # insert) moved the covered end back; the page still reaches the one past the gap.
        slack = min(16, self.step // 8)
        return max(0, min(estimate, latest.total - 1) - slack)

    def _moved(self, span: Span, offset: int) -> int:
        """How many places the read's first row moved back since a page that held it."""
        earlier = [at for s in self.spans[:-1] if (at := s.index_of(span.first)) is not None]
        return max(0, max(earlier) - offset) if earlier else 0
