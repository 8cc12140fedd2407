"""The API side against the project's simulator (in process, httpx.ASGITransport): a scan
makes exactly ceil(Total/250) calls (at least one) as the simulator's own transaction
report counts them, and with faults on (5xx, 429, truncated bodies) a full scan still
returns every id the simulator holds while the call ledger equals the simulator's count."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from pipelines.settings import Credentials
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.paging import PagedScan
from pipelines.tampuuri.retry import RetryBudget, RetryPolicy

from .fakes import SleepRecorder

simulator = pytest.importorskip("pipelines.simulator")

pytestmark = pytest.mark.anyio

ACCOUNT = "demo-a"
BASE_URL = "http://sim.test/v10/api/"
CATALOGUE = load_catalogue()


@pytest.fixture
def sim() -> Any:
    return simulator.Simulator(simulator.SimulatorConfig(seed=11, scale=1500, accounts=(ACCOUNT,)))


@pytest.fixture
async def admin(sim: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's /_sim admin API (never counted as transactions)."""
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as http:
        yield http


def client_for(sim: Any, ledger: CallLedger, *, max_attempts: int = 3) -> TampuuriClient:
    sim_credentials = sim.credentials(ACCOUNT)
    credentials = Credentials(
        api_key=SecretStr(sim_credentials.api_key),
        customer_name=sim_credentials.customer_name,
        account_name=sim_credentials.account_name,
        username=sim_credentials.username,
        password=SecretStr(sim_credentials.password),
    )
    return TampuuriClient(
        ACCOUNT,
        BASE_URL,
        credentials,
        transport=httpx.ASGITransport(app=sim.app),
        ledger=ledger,
        trigger="test",
        retry=RetryPolicy(max_attempts=max_attempts, backoff_initial_s=0, backoff_max_s=0),
        retry_budget=RetryBudget(1000),
        sleep=SleepRecorder(),
    )


async def transactions(admin: httpx.AsyncClient) -> dict[str, Any]:
    response = await admin.get("/_sim/transactions", params={"account": ACCOUNT})
    response.raise_for_status()
    return response.json()


async def reset(admin: httpx.AsyncClient) -> None:
    (await admin.post("/_sim/transactions/reset")).raise_for_status()


async def insert(admin: httpx.AsyncClient, resource: str, **fields: Any) -> int:
    response = await admin.post(
        "/_sim/changes",
        json={"account": ACCOUNT, "resource": resource, "op": "insert", "fields": fields},
    )
    response.raise_for_status()
    return int(response.json()["Id"])


async def scan_ids(client: TampuuriClient, scan: PagedScan) -> list[int]:
    ids: list[int] = []
    async for page in scan.pages():
        ids.extend(item["Id"] for item in page.items)
    return ids


async def test_exact_calls_for_totals(sim: Any, admin: httpx.AsyncClient) -> None:
    # Notices of a new cost centre: Total grows from 0 exactly as we insert.
    notices = CATALOGUE.resources["ilmoitukset"]
    assert notices.list is not None and notices.scope_filter is not None
    cost_centre = await insert(admin, "kustannuspaikat", Nimi="As Oy Testikohde")
    inserted: list[int] = []
    ledger = CallLedger(None)
    async with client_for(sim, ledger) as client:
        for total in (0, 1, 250, 251, 600):
            while len(inserted) < total:
                inserted.append(await insert(admin, "ilmoitukset", KustannuspaikkaId=cost_centre))
            await reset(admin)
            scan = PagedScan(client, notices.list, filters={notices.scope_filter: cost_centre})
            ids = await scan_ids(client, scan)
            report = await transactions(admin)
            calls = max(1, math.ceil(total / 250))
            assert sorted(ids) == sorted(inserted)
            assert report["total"] == calls
            assert report["rows"] == [
                {
                    "account": ACCOUNT,
                    "method": "GET",
                    "route": "ilmoitukset/selaa",
                    "status": 200,
                    "count": calls,
                }
            ]
            assert scan.result.complete and scan.result.total == total
    assert ledger.records_total == 1 + 1 + 1 + 2 + 3


async def test_full_scans_survive_faults_and_ledger_matches(
    sim: Any, admin: httpx.AsyncClient
) -> None:
    faults = {
        "error_rate": 0.1,
        "error_statuses": [500, 502, 503],
        "rate_limit_rate": 0.1,  # 429 with Retry-After
        "retry_after_s": 0.01,
        "truncate_rate": 0.1,  # a 200 whose JSON body is cut short
        "seed": 5,
    }
    (await admin.put("/_sim/faults", json=faults)).raise_for_status()
    await reset(admin)
    ledger = CallLedger(None)
    resources = CATALOGUE.resources
    async with client_for(sim, ledger, max_attempts=12) as client:
        for name in ("kustannuspaikat", "osapuoli_yhteydet", "ilmoitukset"):
            route = resources[name].list
            assert route is not None
            # Small pages: more calls, so every kind of fault is met.
            ids = await scan_ids(client, PagedScan(client, route, page_size=25))
            expected = [row["Id"] for row in sim.items(ACCOUNT, name)]
            assert sorted(set(ids)) == expected, name
            assert len(ids) == len(expected), name  # no drift faults: each id exactly once
        kohteet = resources["kohteet"].list
        assert kohteet is not None
        object_ids: list[int] = []
        for cost_centre in sim.items(ACCOUNT, "kustannuspaikat"):
            scan = PagedScan(
                client, kohteet, path_params={"kohde_id": cost_centre["Id"]}, page_size=25
            )
            object_ids.extend(await scan_ids(client, scan))
        assert sorted(object_ids) == [row["Id"] for row in sim.items(ACCOUNT, "kohteet")]
    report = await transactions(admin)
    by_status = ledger.counts_by_status()
    # The faults really happened, were retried, and every attempt was billed and recorded.
    failures = sum(n for status, n in by_status.items() if status != 200)
    assert by_status.get(429, 0) > 0 and by_status.get(503, 0) > 0
    assert client.retries > failures  # the rest were truncated 200s
    assert ledger.records_total == client.calls == report["total"]
    sim_by_status: dict[int, int] = {}
    for row in report["rows"]:
        sim_by_status[row["status"]] = sim_by_status.get(row["status"], 0) + row["count"]
    assert by_status == sim_by_status
