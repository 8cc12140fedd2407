"""The paging contract (PagedScan) against a scripted list API: exactly ceil(Total/Limit)
calls per pass (at least one), paging keys in the query or the body merged with filters,
the envelope's clamped Limit trusted, concurrency bounded, drift answered by another full
pass (complete only when the last pass was stable), and the loop guard raising PagingError."""

from __future__ import annotations

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


@pytest.mark.parametrize(("total", "calls"), [(0, 1), (1, 1), (250, 1), (251, 2), (600, 3)])
async def test_exact_calls_per_total(make_client: ClientFactory, total: int, calls: int) -> None:
    api = FakeList(total)
    async with make_client(httpx.MockTransport(api)) as client:
        scan = PagedScan(client, QUERY, page_size=250)
        ids = await scan_all(scan)
    assert sorted(ids) == list(range(1, total + 1))
    assert len(api.requests) == calls == expected_calls(total)
    assert api.offsets() == list(range(0, max(total, 1), 250))
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
        {"MuokattuAlku": "2025-04-20T00:00:00+03:00", "Offset": "250", "Limit": "250"},
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
        {"Metanimet": ["huoneisto"], "Offset": 250, "Limit": 250},
    ]


async def test_clamped_limit_echo_is_trusted(make_client: ClientFactory) -> None:
    api = FakeList(600)  # clamps any Limit to 250 and echoes 250
    async with make_client(httpx.MockTransport(api)) as client:
        scan = PagedScan(client, QUERY, page_size=1000)
        ids = await scan_all(scan)
    assert sorted(ids) == list(range(1, 601))
    assert api.offsets() == [0, 250, 500]


async def test_concurrency_is_bounded(make_client: ClientFactory) -> None:
    api = FakeList(2500, delay_s=0.01)  # 10 pages: 1 first, then 9 with at most 3 in flight
    async with make_client(httpx.MockTransport(api), max_concurrency=8) as client:
        scan = PagedScan(client, QUERY, concurrency=3)
        ids = await scan_all(scan)
    assert len(ids) == 2500 and len(api.requests) == 10
    assert api.max_in_flight == 3


async def test_drift_triggers_a_second_full_pass(make_client: ClientFactory) -> None:
    def insert_during_first_pass(call: int, api: FakeList) -> None:
        if call == 2:  # a row appears after the first page told Total 600
            api.rows.insert(0, {"Id": 0, "Nimi": "uusi"})

    api = FakeList(600, before_call=insert_during_first_pass)
    async with make_client(httpx.MockTransport(api), max_concurrency=1) as client:
        scan = PagedScan(client, QUERY, concurrency=1)
        ids = await scan_all(scan)
    # Pass 1: 3 calls (Total 600); pass 2: ceil(601 / 250) = 3 calls, all stable.
    assert len(api.requests) == 6
    assert set(ids) == set(range(0, 601))
    assert scan.result == ScanResult(complete=True, total=601, pages=6, passes=2, drifted=True)


async def test_drift_on_every_pass_is_incomplete(make_client: ClientFactory) -> None:
    def keep_inserting(call: int, api: FakeList) -> None:
        offset = int(api.requests[-1].url.params["Offset"])
        if offset != 0:  # a row appears while every pass is under way
            api.rows.append({"Id": 10_000 + call})

    api = FakeList(500, before_call=keep_inserting)
    async with make_client(httpx.MockTransport(api), max_concurrency=1) as client:
        scan = PagedScan(client, QUERY, concurrency=1, max_passes=3)
        await scan_all(scan)
    # Pass 1 sees Total 500 (2 calls), pass 2 Total 501 (3), pass 3 Total 503 (3).
    assert len(api.requests) == 8
    assert scan.result.complete is False
    assert (scan.result.passes, scan.result.drifted) == (3, True)


async def test_short_page_with_stable_total_counts_as_drift(make_client: ClientFactory) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        offset = int(request.url.params["Offset"])
        size = 250 if offset == 0 else 49  # should be 50 for Total 300
        if calls > 2:
            size = 250 if offset == 0 else 50
        items = [{"Id": offset + i} for i in range(size)]
        return httpx.Response(200, json=envelope(offset, 250, 300, items))

    async with make_client(httpx.MockTransport(handler)) as client:
        scan = PagedScan(client, QUERY)
        await scan_all(scan)
    assert calls == 4
    assert (scan.result.complete, scan.result.passes, scan.result.drifted) == (True, 2, True)


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
        (_offset_ignored, "the page at Offset 250 repeats the page at Offset 0"),
        (_offset_echo_wrong, "asked Offset 250, the API answered Offset 0"),
        (_empty_middle_page, "empty page at Offset 250 of Total 600"),
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
        if request.url.params["Offset"] == "500":
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
