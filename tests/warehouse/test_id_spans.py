"""Id spans: when staged pages provably hold no id twice, and no id written before."""

import pytest

from pipelines.warehouse.encoding import encode_page
from pipelines.warehouse.id_spans import IdSpan, WrittenSpans, repeat_free
from pipelines.warehouse.tables import TABLES
from tests.warehouse.test_loader import kohde


def spans_of(*ids_per_page):
    return [encode_page(TABLES["kohteet"], [kohde(i) for i in ids]).spans[0]
            for ids in ids_per_page]  # fmt: skip


def test_a_page_span_is_its_lowest_and_highest_id_and_whether_they_ascend():
    assert spans_of([3, 5, 9], [9, 4, 7], [2, 2]) == [
        IdSpan(3, 9, True), IdSpan(4, 9, False), IdSpan(2, 2, False),
    ]  # fmt: skip
    assert encode_page(TABLES["kohteet"], []).spans == ()


@pytest.mark.parametrize(
    ("pages", "free"),
    [
        ([[1, 2], [5, 6], [3, 4]], True),  # out of order, disjoint
        ([[1, 2], [2, 3]], False),  # id 2 twice
        ([[1, 9], [4, 5]], False),  # 4..5 inside 1..9: cannot tell, so not free
        ([[2, 1]], False),  # not ascending within the page
        ([], True),
    ],
)
def test_repeat_free_only_when_every_page_ascends_and_none_overlaps(pages, free):
    assert repeat_free(spans_of(*pages)) is free


def test_written_spans_tell_overlaps_and_merge_only_overlapping_spans():
    written = WrittenSpans()
    assert not written.overlaps([IdSpan(1, 10)])
    written.add([IdSpan(1, 10), IdSpan(21, 30)])  # a page of 11..20 still to come
    assert len(written) == 2
    assert not written.overlaps([IdSpan(11, 20)])
    assert not written.overlaps([IdSpan(31, 40), IdSpan(0, 0)])
    for touching in (IdSpan(10, 11), IdSpan(20, 21), IdSpan(5, 25), IdSpan(0, 100)):
        assert written.overlaps([IdSpan(50, 60), touching]), touching
    written.add([IdSpan(11, 20)])
    assert len(written) == 3
    written.add([IdSpan(5, 25)])  # overlaps all three: one span 1..30
    assert len(written) == 1
    assert written.overlaps([IdSpan(30, 31)]) and not written.overlaps([IdSpan(31, 31)])
