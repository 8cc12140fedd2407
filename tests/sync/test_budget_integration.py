"""The call budget applied to real runs: the plan equals the calls a fault-free run makes,
and the guard defers or trims a run before it starts, never halfway through."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from pipelines.budget.plan import plan_sync
from pipelines.budget.probe import probe_plan
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.tampuuri.client import TampuuriClient
from tests.sync.helpers import account_for, fill_ledger
from tests.sync.test_sync_e2e import sync


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=12, scale=1500, accounts=("demo-a",)))


def _spent(sim: Simulator) -> int:
    return sum(row["count"] for row in sim.transactions())


def test_probed_plan_equals_the_first_full_sync(engine, sim):
    account, environ = account_for(sim, "demo-a")
    catalogue = load_catalogue()

    async def probe():
        async with TampuuriClient(
            "demo-a",
            account.base_url,
            account.resolve_credentials(environ),
            transport=httpx.ASGITransport(app=sim.app),
        ) as client:
            with engine.connect() as conn:
                return await probe_plan(client, catalogue, conn, account, full=True)

    plan = asyncio.run(probe())
    assert plan.probe_calls == _spent(sim)
    before = _spent(sim)
    report = sync(engine, sim, "demo-a", full=True)
    assert report.ok
    assert plan.calls == report.calls == _spent(sim) - before


def test_plan_from_last_totals_equals_full_and_incremental_runs(engine, sim):
    sync(engine, sim, "demo-a", full=True)
    account, _ = account_for(sim, "demo-a")
    for full in (True, False):
        with engine.connect() as conn:
            plan = plan_sync(conn, load_catalogue(), account, full=full)
        before = _spent(sim)
        report = sync(engine, sim, "demo-a", full=full)
        assert report.ok
        assert plan.calls == report.calls == _spent(sim) - before, f"full={full}"


def test_exhausted_package_defers_before_any_call(engine, sim):
    sync(engine, sim, "demo-a", full=True)  # a Standard account: 2,000 calls a month
    fill_ledger(engine, "demo-a", 2000)
    before = _spent(sim)
    report = sync(engine, sim, "demo-a")
    assert not report.ok
    assert report.deferred_reason and "deferred" in report.deferred_reason
    assert "2,000" in report.deferred_reason
    assert _spent(sim) == before  # nothing was sent
    with engine.connect() as conn:
        statuses = (
            conn.execute(
                text("SELECT DISTINCT status FROM ops.sync_runs WHERE run_id = :r"),
                {"r": report.run_id},
            )
            .scalars()
            .all()
        )
    assert statuses == ["deferred"]


@pytest.mark.parametrize("webhooks", [True, False])
def test_run_that_does_not_fit_is_trimmed_to_the_stalest_cost_centres(engine, sim, webhooks):
    first = sync(engine, sim, "demo-a", full=True)
    account, _ = account_for(sim, "demo-a", webhooks=webhooks)
    with engine.connect() as conn:
        plan = plan_sync(conn, load_catalogue(), account, full=True)
    objects = plan.resource("kohteet")
    assert objects is not None and len(objects.scopes) >= 4
    # A full run must leave the webhook reserve (10 % of 2,000; none for an account
    # without webhooks: nothing would spend it) and a day's incremental calls: leave room
    # for all but two cost centres.
    available = plan.expected_calls - 2
    left = available + (200 if webhooks else 0) + plan.daily_incremental_calls
    fill_ledger(engine, "demo-a", 2000 - first.calls - left)
    before = _spent(sim)
    report = sync(engine, sim, "demo-a", full=True, account_options={"webhooks": webhooks})
    assert report.ok
    assert report.trimmed_reason and "trimmed" in report.trimmed_reason
    assert report.resource("kohteet").scopes_total == len(objects.scopes) - 2
    assert _spent(sim) - before == report.calls == available
