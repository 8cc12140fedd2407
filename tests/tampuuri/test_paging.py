"""The paging contract (PagedScan) against a scripted list API: pages overlap by one row,
so a drift-free scan of T rows takes exactly 1 + ceil((T - L) / (L - 1)) calls (1 for
T <= L); paging keys in the query or the body merged with filters; the envelope's clamped
Limit trusted; concurrency bounded; rows yielded once each. A list that changes mid-scan
(an already-read row deleted, a row inserted after the cursor, both between the same two
calls, repeatedly) is repaired by re-reading only the pages before each gap, with exact
call counts; a scan that cannot be proven within its bounds is incomplete. A list whose
ids do not ascend keeps the Total rule (another full pass on drift). The loop guard raises
PagingError."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from pipelines.tampuuri.catalogue import Route
from pipelines.tampuuri.errors import PagingError, TampuuriForbidden
from pipelines.tampuuri.paging import PagedScan, ScanResult, expected_calls, probe_total

from .conftest import ClientFactory
from .fakes import FakeList, envelope

pytestmark = pytest.mark.anyio

QUERY = Route("GET", "kustannuspaikat/selaa", paging="query")
BODY = Route("POST", "kohteet/{kohde_id}/selaa", paging="body")


async def scan_all(scan: PagedScan) -> list[int]:
    ids: list[int] = []
    async for page in scan.pages():
        ids.extend(item["Id"] for item in page.items)
    return ids


@pytest.mark.parametrize(
    ("total", "calls"),
    [(0, 1), (1, 1), (250, 1), (251, 2), (499, 2), (500, 3), (600, 3), (100_000, 402)],
)
async def test_exact_calls_per_total(make_client: ClientFactory, total: int, calls: int) -> None:
    api = FakeList(total)
    async with make_client(httpx.MockTransport(api)) as client:
        scan = PagedScan(client, QUERY, page_size=250)
        ids = await scan_all(scan)
    assert sorted(ids) == list(range(1, total + 1))
    assert len(api.requests) == calls == expected_calls(total)
    assert api.offsets() == [249 * k for k in range(calls)]
    assert scan.result == ScanResult(
        complete=True, total=total, pages=calls, passes=1, drifted=False
    )


async def test_query_paging_merges_filters(make_client: ClientFactory) -> None:
    api = FakeList(300)
    async with make_client(httpx.MockTransport(api)) as client:
        scan = PagedScan(client, QUERY, filters={"MuokattuAlku": "2025-04-20T00:00:00+03:00"})
        await scan_all(scan)
    params = [dict(r.url.params) for r in api.requests]
    assert sorted(params, key=lambda p: int(p["Offset"])) == [
        {"MuokattuAlku": "2025-04-20T00:00:00+03:00", "Offset": "0", "Limit": "250"},
        {"MuokattuAlku": "2025-04-20T00:00:00+03:00", "Offset": "249", "Limit": "250"},
    ]


async def test_body_paging_merges_filters_and_fills_the_path(make_client: ClientFactory) -> None:
    api = FakeList(260)
    async with make_client(httpx.MockTransport(api)) as client:
        scan = PagedScan(
            client, BODY, path_params={"kohde_id": 1001}, filters={"Metanimet": ["huoneisto"]}
        )
        assert len(await scan_all(scan)) == 260
    assert {r.url.path for r in api.requests} == {"/v10/api/kohteet/1001/selaa"}
    assert all(r.url.query == b"" for r in api.requests)
    bodies = sorted((orjson.loads(r.content) for r in api.requests), key=lambda b: b["Offset"])
    assert bodies == [
        {"Metanimet": ["huoneisto"], "Offset": 0, "Limit": 250},
        {"Metanimet": ["huoneisto"], "Offset": 249, "Limit": 250},
    ]


async def test_clamped_limit_echo_is_trusted(make_client: ClientFactory) -> None:
    api = FakeList(600)  # clamps any Limit to 250 and echoes 250
    async with make_client(httpx.MockTransport(api)) as client:
        scan = PagedScan(client, QUERY, page_size=1000)
        ids = await scan_all(scan)
    assert sorted(ids) == list(range(1, 601))
    assert api.offsets() == [0, 249, 498]


async def test_concurrency_is_bounded(make_client: ClientFactory) -> None:
    api = FakeList(2500, delay_s=0.01)  # 11 pages: 1 first, then 10 with at most 3 in flight
    async with make_client(httpx.MockTransport(api), max_concurrency=8) as client:
        scan = PagedScan(client, QUERY, concurrency=3)
        ids = await scan_all(scan)
    assert len(ids) == 2500 and len(api.requests) == 11
    assert api.max_in_flight == 3


async def test_pages_are_asked_for_while_the_consumer_works(make_client: ClientFactory) -> None:
    """The next pages go out before a page is handed on: a slow consumer (encoding and
    staging) never leaves the scan's calls waiting for it. 11 pages: after the first, the
    3 concurrent ones start while the consumer works on it, and each later page's
    replacement while it works on that page: all 10 start during the consumer's work, and
    the calls stay exactly 11."""
    api = FakeList(2500, delay_s=0.001)
    started_while_consuming = 0
    async with make_client(httpx.MockTransport(api), max_concurrency=8) as client:
        scan = PagedScan(client, QUERY, concurrency=3)
        ids: list[int] = []
        async for page in scan.pages():
            before = len(api.requests)
            await asyncio.sleep(0.02)  # the consumer's work on this page
            started_while_consuming += len(api.requests) - before
            ids.extend(item["Id"] for item in page.items)
    assert sorted(ids) == list(range(1, 2501))
    assert len(api.requests) == 11 == expected_calls(2500)
    assert started_while_consuming == 10
    assert api.max_in_flight <= 3


def delete_id(api: FakeList, row_id: int) -> None:
    api.rows = [r for r in api.rows if r["Id"] != row_id]


def append_id(api: FakeList, row_id: int) -> None:
    api.rows.append({"Id": row_id, "Nimi": "uusi"})


def drift_before(calls: set[int], *changes: Callable[[FakeList], None]) -> Callable[..., None]:
    """A `before_call` that applies `changes` (in order) before each call numbered in `calls`."""

    def before_call(call: int, api: FakeList) -> None:
        if call in calls:
            for change in changes:
                change(api)

    return before_call


async def scan_with(api: FakeList, make_client: ClientFactory, **options: Any) -> PagedScan:
    async with make_client(httpx.MockTransport(api), max_concurrency=1) as client:
        scan = PagedScan(client, QUERY, concurrency=1, **options)
        ids = await scan_all(scan)
    assert len(ids) == len(set(ids)), "every row is yielded once"
    scan.ids = ids  # type: ignore[attr-defined]
    return scan


def throughout(before: set[int], api: FakeList) -> set[int]:
    return before & {r["Id"] for r in api.rows}


@pytest.mark.parametrize(
    ("name", "changes", "calls", "repairs"),
    [
        # Page 1 (Offset 249) starts one row later: the overlap is used up, one re-read
        # at Offset 248 - 16 (slack) proves the boundary. (Without the overlap row, row 251
        # is skipped.)
        ("delete of an already-read row", [lambda a: delete_id(a, 100)], 4, 1),
        (
            "two already-read rows deleted",
            [lambda a: delete_id(a, 99), lambda a: delete_id(a, 100)],
            4,
            1,
        ),
        # New ids are higher: the row lands after the cursor, the last page still ends the list.
        ("insert after the cursor", [lambda a: append_id(a, 601)], 3, 0),
        # Total ends where it started: only the ids show the gap.
        (
            "delete and insert between the same calls",
            [lambda a: delete_id(a, 100), lambda a: append_id(a, 601)],
            4,
            1,
        ),
    ],
)
async def test_drift_between_two_page_calls_is_repaired(
    make_client: ClientFactory,
    name: str,
    changes: list[Callable[[FakeList], None]],
    calls: int,
    repairs: int,
) -> None:
    api = FakeList(600, before_call=drift_before({2}, *changes))
    existed = {r["Id"] for r in api.rows}
    scan = await scan_with(api, make_client)
    assert throughout(existed, api) <= set(scan.ids), name  # type: ignore[attr-defined]
    assert len(api.requests) == calls == 3 + repairs
    assert scan.result.complete is True
    assert (scan.result.repairs, scan.result.pages) == (repairs, calls)


async def test_repeated_drift_repairs_every_gap(make_client: ClientFactory) -> None:
    # 1,000 rows: 5 pages; before each of pages 2..5 a read row goes and a row is added.
    counter = iter(range(1001, 2000))
    api = FakeList(
        1000,
        before_call=drift_before(
            {2, 3, 4, 5},
            lambda a: delete_id(a, a.rows[10]["Id"]),
            lambda a: append_id(a, next(counter)),
        ),
    )
    existed = {r["Id"] for r in api.rows}
    scan = await scan_with(api, make_client)
    assert throughout(existed, api) <= set(scan.ids)  # type: ignore[attr-defined]
    assert scan.result.complete is True
    # One re-read per gap: each starts a few rows before where the pages put the covered
    # end, so the deletions no Total shows (each came with an insert) do not make it miss.
    assert (len(api.requests), scan.result.repairs) == (5 + 4, 4)
    assert scan.result.total == 1000  # Total ended where it started


async def test_gaps_far_apart_take_one_read_each(make_client: ClientFactory) -> None:
    # 2,500 rows: 11 pages; a read row goes before page 1 and another before page 8. The
    # re-read that closes the first gap reaches up to the second: the next re-read starts
    # where the page holding that covered end put it, not after the first re-read.
    api = FakeList(2500, before_call=drift_before({2, 9}, lambda a: delete_id(a, a.rows[10]["Id"])))
    existed = {r["Id"] for r in api.rows}
    scan = await scan_with(api, make_client)
    assert throughout(existed, api) <= set(scan.ids)  # type: ignore[attr-defined]
    assert scan.result.complete is True
    assert (len(api.requests), scan.result.repairs) == (11 + 2, 2)
    asked = [int(api.paging_of(r)["Offset"]) for r in api.requests]
    assert asked[11:] == [247 - 16, 1991 - 16]  # (16 rows of slack)


async def test_heavy_churn_is_repaired_from_where_rows_moved(make_client: ClientFactory) -> None:
    # Before EVERY call after the first, repairs included, 20 read rows go and 20 are
    # added: Total never moves. A re-read that lands past the covered end shows how far its
    # first row moved since an earlier page held it, and the next try goes back that far.
    counter = iter(range(601, 10_000))

    def churn(call: int, api: FakeList) -> None:
        if call > 1:
            for _ in range(20):
                delete_id(api, api.rows[5]["Id"])
                append_id(api, next(counter))

    api = FakeList(600, before_call=churn)
    existed = {r["Id"] for r in api.rows}
    scan = await scan_with(api, make_client, max_passes=2)
    assert throughout(existed, api) <= set(scan.ids)  # type: ignore[attr-defined]
    assert scan.result.complete is True
    assert (len(api.requests), scan.result.repairs, scan.result.total) == (6, 3, 600)


async def test_a_gap_beyond_the_bounds_leaves_the_scan_incomplete(
    make_client: ClientFactory,
) -> None:
    # max_passes=1 allows no re-read: the gap stays, and the scan must not claim the list.
    api = FakeList(600, before_call=drift_before({2}, lambda a: delete_id(a, 100)))
    scan = await scan_with(api, make_client, max_passes=1)
    assert scan.result.complete is False
    assert (len(api.requests), scan.result.repairs) == (3, 0)


async def test_a_short_page_its_own_total_contradicts_is_read_on(
    make_client: ClientFactory,
) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        offset = int(request.url.params["Offset"])
        size = min(250, 300 - offset) - (1 if calls == 2 else 0)  # page 2 one row short
        items = [{"Id": offset + i} for i in range(size)]
        return httpx.Response(200, json=envelope(offset, 250, 300, items))

    async with make_client(httpx.MockTransport(handler)) as client:
        scan = PagedScan(client, QUERY)
        ids = await scan_all(scan)
    # Offset 249 answers rows 249..297 of Total 300: not the end; Offset 297 reads on.
    assert calls == 3 and sorted(ids) == list(range(300))
    assert (scan.result.complete, scan.result.repairs, scan.result.drifted) == (True, 1, True)


class DescendingList(FakeList):
    """A list not ordered by id (newest first): only the Total rule applies."""

    def __init__(self, total: int, **options: Any) -> None:
        super().__init__(total, **options)
        self.rows.reverse()


async def test_unordered_list_keeps_the_total_rule(make_client: ClientFactory) -> None:
    def insert_during_first_pass(call: int, api: FakeList) -> None:
        if call == 2:  # a row appears after the first page told Total 600
            api.rows.insert(0, {"Id": 601, "Nimi": "uusi"})

    api = DescendingList(600, before_call=insert_during_first_pass)
    scan = await scan_with(api, make_client)
    # Pass 1: 3 calls (Total 600); pass 2: Total 601, 3 calls, all stable.
    assert len(api.requests) == 6
    assert set(scan.ids) == set(range(1, 602))  # type: ignore[attr-defined]
    assert scan.result == ScanResult(complete=True, total=601, pages=6, passes=2, drifted=True)


async def test_unordered_drift_on_every_pass_is_incomplete(make_client: ClientFactory) -> None:
    def keep_inserting(call: int, api: FakeList) -> None:
        offset = int(api.requests[-1].url.params["Offset"])
        if offset != 0:  # a row appears while every pass is under way
            api.rows.insert(0, {"Id": 10_000 + call})

    api = DescendingList(500, before_call=keep_inserting)
    scan = await scan_with(api, make_client, max_passes=3)
    # Pass 1 sees Total 500 (3 calls), pass 2 Total 501 (3), pass 3 Total 503 (3).
    assert len(api.requests) == 9
    assert scan.result.complete is False
    assert (scan.result.passes, scan.result.drifted) == (3, True)


def _offset_ignored(request: httpx.Request) -> httpx.Response:
    # An API that echoes the asked Offset but always serves the first rows.
    offset = int(request.url.params["Offset"])
    return httpx.Response(200, json=envelope(offset, 250, 600, [{"Id": i} for i in range(250)]))


def _offset_echo_wrong(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=envelope(0, 250, 600, [{"Id": i} for i in range(250)]))


def _empty_middle_page(request: httpx.Request) -> httpx.Response:
    offset = int(request.url.params["Offset"])
    items = [{"Id": i} for i in range(250)] if offset == 0 else []
    return httpx.Response(200, json=envelope(offset, 250, 600, items))


@pytest.mark.parametrize(
    ("handler", "problem"),
    [
        (_offset_ignored, "the page at Offset 249 repeats the page at Offset 0"),
        (_offset_echo_wrong, "asked Offset 249, the API answered Offset 0"),
        (_empty_middle_page, "empty page at Offset 249 of Total 600"),
    ],
)
async def test_loop_guard(make_client: ClientFactory, handler: object, problem: str) -> None:
    async with make_client(httpx.MockTransport(handler)) as client:  # type: ignore[arg-type]
        scan = PagedScan(client, QUERY, concurrency=1)
        with pytest.raises(PagingError) as caught:
            await scan_all(scan)
    assert (
        str(caught.value)
        == f"account 'demo-a': GET kustannuspaikat/selaa -> no response: {problem}"
    )


async def test_not_an_envelope_is_a_paging_error(make_client: ClientFactory) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=[{"Id": 1}]))
    async with make_client(transport) as client:
        with pytest.raises(PagingError, match="expected a paging envelope, got list"):
            await scan_all(PagedScan(client, QUERY))


async def test_a_failing_page_stops_the_scan_and_leaves_nothing_running(
    make_client: ClientFactory,
) -> None:
    api = FakeList(2500, delay_s=0.005)

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["Offset"] == "498":
            return httpx.Response(403, json={"Message": "Ei kohdeoikeutta"})
        return await api(request)

    async with make_client(httpx.MockTransport(handler)) as client:
        scan = PagedScan(client, QUERY, concurrency=3)
        with pytest.raises(TampuuriForbidden):
            await scan_all(scan)
        with pytest.raises(RuntimeError, match="has not finished"):
            _ = scan.result
    assert api.in_flight == 0


async def test_probe_total_is_one_limit_1_call(make_client: ClientFactory) -> None:
    api = FakeList(777)
    async with make_client(httpx.MockTransport(api)) as client:
        assert await probe_total(client, QUERY, filters={"KohdeId": 5}) == 777
    assert [dict(r.url.params) for r in api.requests] == [
        {"KohdeId": "5", "Offset": "0", "Limit": "1"}
    ]


def test_unpaged_route_is_refused() -> None:
    with pytest.raises(ValueError, match="not a paged route"):
        PagedScan(object(), Route("GET", "kohteet/{kohde_id}"))  # type: ignore[arg-type]
