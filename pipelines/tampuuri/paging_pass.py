"""One pass of a paged scan: the envelope each page answers with, read and checked (the
echoed Offset, an empty page before the end, a repeated page, Total drift, the id spans
that prove page boundaries), and the calls a drift-free scan takes (`paging.PagedScan`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from pipelines.tampuuri.page_cover import Span, span_of


@dataclass(frozen=True)
class Page:
    """One page as the API answered it (Offset/Limit/Total are the envelope's echoes)."""

    offset: int
    limit: int
    total: int
    items: list[dict[str, Any]]
    pass_number: int = 1


class PassState:
    """What one pass has seen: its Total, page signatures, spans, whether it drifted."""

    def __init__(
        self, fail: Callable[[str], Exception], id_field: str, pass_number: int, *, ordered: bool
    ) -> None:
        self._fail = fail
        self._id_field = id_field
        self.pass_number = pass_number
        self.total: int | None = None
        self.drifted = False
        self._signatures: dict[tuple[object, ...], int] = {}
        # None once a page's ids do not ascend (or never, for a list not ordered by id).
        self.spans: list[Span] | None = [] if ordered else None
        self.limit = 0
        self.step = 1
        self.planned = 1
        self.first_total = 0
        self.latest_total = 0

    def start(self, first: Page) -> None:
        """Learn the pass's layout from its first page."""
        self.limit, self.first_total = first.limit, first.total
        # A Limit of 1 cannot overlap: such a pass falls back to the Total rule.
        self.step = first.limit - 1 if first.limit >= 2 else max(1, first.limit)
        self.planned = expected_calls(first.total, first.limit)

    def check_offset(self, page: Page, *, asked_offset: int) -> None:
        if page.offset != asked_offset:
            fail = self._fail
            raise fail(f"asked Offset {asked_offset}, the API answered Offset {page.offset}")

    def check(self, page: Page, *, asked_offset: int) -> None:
        fail = self._fail
        self.check_offset(page, asked_offset=asked_offset)
        self.latest_total = page.total
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
        signature = tuple(item.get(self._id_field) for item in page.items)
        if signature and None not in signature:
            seen_at = self._signatures.setdefault(signature, page.offset)
            if seen_at != page.offset:
                raise fail(f"the page at Offset {page.offset} repeats the page at Offset {seen_at}")
        if self.spans is not None:
            seq = len(self.spans)
            span = span_of(page.offset, page.total, page.items, self._id_field, seq)
            if span is None:
                self.spans = None
            else:
                self.spans.append(span)


def read_envelope(answer: Any, offset: int, limit: int, pass_number: int, error: Any) -> Page:
    """Read `{"Offset", "Limit", "Total", "Items"}` (keys matched case-insensitively)."""
    if not isinstance(answer, dict):
        raise error(f"expected a paging envelope, got {type(answer).__name__}")
    fields = {str(k).lower(): v for k, v in answer.items()}
    items = fields.get("items")
    total = fields.get("total")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise error("paging envelope without an Items list of objects")
    if not is_int(total) or total < 0:
        raise error("paging envelope without a valid Total")
    echoed_offset = fields.get("offset", offset)
    echoed_limit = fields.get("limit", limit)
    if not is_int(echoed_offset) or not is_int(echoed_limit):
        raise error("paging envelope with a non-integer Offset or Limit")
    return Page(
        offset=echoed_offset,
        limit=echoed_limit,
        total=total,
        items=items,
        pass_number=pass_number,
    )


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


PAGING_RULE = (
    "a list of T rows takes 1 call up to 250 rows, else 1 + ceil((T - 250) / 249):"
    " pages overlap by one row, which proves no row was skipped (100,000 rows: 402 calls)"
)


def expected_calls(total: int, page_size: int = 250) -> int:
    """Calls one drift-free scan of `total` rows makes: pages overlap by one row.

    1 for total <= page_size, else 1 + ceil((total - page_size) / (page_size - 1)).
    """
    if total <= page_size or page_size < 2:
        return max(1, -(-total // max(1, page_size)))
    return 1 + -(-(total - page_size) // (page_size - 1))
