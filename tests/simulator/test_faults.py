"""Every fault mode (5xx, 429 with Retry-After, latency, hangs, truncated bodies, paging
drift) behaves as configured, is deterministic by seed, switchable through /_sim/faults,
and each faulty answer is still one counted transaction."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest

from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from pipelines.simulator.cli import parse_faults

from .helpers import API, BASE

pytestmark = pytest.mark.anyio


def _client(sim: Simulator) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url=BASE,
        headers=sim.credentials("demo-a").headers(),
    )  # fmt: skip


async def _statuses(sim: Simulator, n: int) -> list[int]:
    async with _client(sim) as c:
        return [(await c.get(API + "kustannuspaikat/selaa")).status_code for _ in range(n)]


async def test_errors_are_deterministic_by_seed_and_counted():
    faults = FaultConfig(error_rate=0.3, seed=4)
    runs = []
    for _ in range(2):
        sim = Simulator(SimulatorConfig(seed=1, scale=50, faults=faults))
        runs.append((await _statuses(sim, 60), sim))
    (first, sim), (second, _) = runs
    assert first == second
    assert set(first) == {200, 500, 502, 503}
    counted = {r["status"]: r["count"] for r in sim.transactions()}
    assert counted == {s: first.count(s) for s in set(first)}
    assert sum(counted.values()) == 60


async def test_rate_limit_sends_retry_after(sim, admin):
    r = await admin.put("/_sim/faults", json={"rate_limit_rate": 1.0, "retry_after_s": 0.01})
    assert r.json()["rate_limit_rate"] == 1.0
    async with _client(sim) as c:
        r = await c.get(API + "kustannuspaikat/selaa")
        assert (r.status_code, r.headers["Retry-After"]) == (429, "0.01")
        await admin.put("/_sim/faults", json={"rate_limit_rate": 1.0, "retry_after_s": 2})
        assert (await c.get(API + "kustannuspaikat/selaa")).headers["Retry-After"] == "2"
        await admin.put("/_sim/faults", json={})
        assert (await c.get(API + "kustannuspaikat/selaa")).status_code == 200
    assert (await admin.put("/_sim/faults", json={"error_rate": 2})).status_code == 400
    assert (await admin.put("/_sim/faults", json={"bogus": 1})).status_code == 400


async def test_truncated_body_has_status_200_and_invalid_json(sim):
    sim.faults.configure(FaultConfig(truncate_rate=1.0))
    async with _client(sim) as c:
        r = await c.get(API + "osapuolet/yhteydet/selaa")
    assert r.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(r.content)
    assert sim.transactions()[0]["status"] == 200


async def test_latency_and_hang():
    sim = Simulator(SimulatorConfig(seed=1, scale=50, faults=FaultConfig(latency_ms=50)))
    async with _client(sim) as c:
        started = time.perf_counter()
        assert (await c.get(API + "kustannuspaikat/selaa")).status_code == 200
        assert time.perf_counter() - started >= 0.05
        sim.faults.configure(FaultConfig(hang_rate=1.0, hang_s=5))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.get(API + "kustannuspaikat/selaa"), timeout=0.2)
        sim.faults.configure(FaultConfig(hang_rate=1.0, hang_s=0.05))
        assert (await c.get(API + "kustannuspaikat/selaa")).status_code == 200
    # A hang cut short by the client is still a counted call.
    assert sim.transactions() == [
        {
            "account": "demo-a",
            "method": "GET",
            "route": "kustannuspaikat/selaa",
            "status": 200,
            "count": 2,
        },
        {
            "account": "demo-a",
            "method": "GET",
            "route": "kustannuspaikat/selaa",
            "status": 499,
            "count": 1,
        },
    ]


async def test_drift_changes_the_list_between_pages(clock):
    sim = Simulator(SimulatorConfig(seed=1, scale=600), clock=clock)
    receiver_events = []
    sim.webhooks.enqueue = lambda account, notes: receiver_events.extend(notes)  # type: ignore[method-assign]
    before = len(sim.items("demo-a", "osapuoli_yhteydet"))
    async with _client(sim) as c:
        first = (await c.get(API + "osapuolet/yhteydet/selaa", params={"Limit": 50})).json()
        sim.faults.configure(FaultConfig(drift_rate=1.0, seed=1))
        totals = []
        for offset in (50, 100, 150):
            page = (
                await c.get(
                    API + "osapuolet/yhteydet/selaa", params={"Limit": 50, "Offset": offset}
                )
            ).json()
            totals.append(page["Total"])
    assert first["Total"] == before
    steps = [b - a for a, b in zip([before, *totals], totals, strict=False)]
    assert all(step in (-1, 1) for step in steps)  # one real insert or delete per page
    assert len(sim.items("demo-a", "osapuoli_yhteydet")) == totals[-1]
    # Drift is a real change: each inserted link queued its webhook.
    assert [e["Action"] for e in receiver_events] == ["OsapuoliKohdeLiitosUusi"] * steps.count(1)
    assert sim.transactions()[0]["count"] == 4


def test_fault_presets_and_json():
    assert parse_faults("chaos").drift_rate > 0
    assert parse_faults('{"error_rate": 0.5}') == FaultConfig(error_rate=0.5)
    assert parse_faults(None) is None
