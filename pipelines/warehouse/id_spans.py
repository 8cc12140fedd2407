"""Which ids a staged page holds, as spans: what lets a write skip its duplicate checks.

A page of a list comes ordered by id (the API pages by offset over an id-ordered list), so
its ids fit one span, low to high. The loader needs two facts before it writes staged rows:

- can an id occur twice in staging (the same row on two pages: offset paging over a
  changing list)? Only then must it keep the last copy per id (a sort of the staged rows);
- can a staged id already be stored by the streaming load itself? Only then must it probe
  the table's primary key for every staged row and overwrite instead of insert.

Spans answer both without reading the rows: staged pages whose ids strictly ascend and
whose spans do not overlap hold no id twice, and staged spans that overlap no span written
before hold no stored id. Both answers are conservative: a page out of order (or any
overlap) only means the exact check runs, as it always did before.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class IdSpan:
    """The lowest and highest id of one page; `ascending`: its ids strictly ascend."""

    low: int
    high: int
    ascending: bool = True


def repeat_free(spans: Sequence[IdSpan]) -> bool:
    """Whether pages with these spans hold no id twice (each ascends, none overlaps)."""
    if not all(span.ascending for span in spans):
        return False
    ordered = sorted(spans)
    return all(a.high < b.low for a, b in itertools.pairwise(ordered))


class WrittenSpans:
    """The id spans a load has written so far: sorted, overlapping ones merged.

    Ids of pages that arrive out of order fall between spans already written without
    overlapping them, so spans are merged only when they overlap: a list of about one
    span per page, a few thousand for a million rows.
    """

    def __init__(self) -> None:
        self._lows: list[int] = []
        self._highs: list[int] = []

    def __len__(self) -> int:
        return len(self._lows)

    def overlaps(self, spans: Iterable[IdSpan]) -> bool:
        """Whether any of `spans` shares an id range with a written span."""
        return any(self._overlapping(span.low, span.high) for span in spans)

    def add(self, spans: Iterable[IdSpan]) -> None:
        for span in spans:
            low, high = span.low, span.high
            start, end = self._overlap_range(low, high)
            if start < end:  # merge with the written spans it overlaps
                low = min(low, self._lows[start])
                high = max(high, self._highs[end - 1])
            self._lows[start:end] = [low]
            self._highs[start:end] = [high]

    def _overlapping(self, low: int, high: int) -> bool:
        start, end = self._overlap_range(low, high)
        return start < end

    def _overlap_range(self, low: int, high: int) -> tuple[int, int]:
        """Indices [start, end) of the written spans that overlap low..high."""
        start = bisect.bisect_left(self._highs, low)  # first span ending at or after low
        end = bisect.bisect_right(self._lows, high)  # spans starting at or before high
        return start, max(start, end)
