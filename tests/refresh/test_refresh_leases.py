"""Leases (opt-in, issue 18): ended leases in one window cost one change-since scan; the
budget estimate of the opt-in resources' targets follows their declarations."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.webhooks.refresh import expected_calls
from tests.sync.helpers import account_for

from .conftest import ACCOUNT, FAST, Clock, World

LEASES = "vuokrasopimukset"


@pytest.fixture
def opted(engine) -> World:
    clock = Clock()
    sim = Simulator(SimulatorConfig(seed=7, scale=300, accounts=(ACCOUNT,)), clock=clock)
    account, environ = account_for(sim, ACCOUNT, resources=[LEASES])
    transport = httpx.ASGITransport(app=sim.app)
    report = run_sync(
        engine, SyncRequest(account, full=True), transport=transport, environ=environ,
        settings=FAST,
    )  # fmt: skip
    assert report.ok
    sim.counter.reset()
    return World(sim, engine, account, environ, clock)


def test_three_ended_leases_cost_one_change_since_scan(opted: World):
    leases = [r for r in opted.sim.items(ACCOUNT, LEASES) if r["Loppupvm"] is None][:3]
    assert len(leases) == 3
    events: list[dict] = []
    for lease in leases:
        opted.clock.now += timedelta(milliseconds=5)
        events += opted.change(LEASES, "update", id=lease["Id"], fields={"Loppupvm": "2027-01-31"})
    assert {e["Action"] for e in events} == {"SopimusPaattyi"}
    opted.deliver(events)
    result = opted.process(run_id="run-leases")
    assert (result.events, result.done, result.failed) == (len(events), len(events), 0)
    assert opted.calls_by_route() == {("GET", "vuokrasopimukset/selaa", 200): 1}
    for lease in leases:
        end = opted.scalar(
            "SELECT loppupvm::text FROM tampuuri.vuokrasopimukset WHERE account = :a AND id = :i",
            a=ACCOUNT,
            i=lease["Id"],
        )
        assert end == "2027-01-31"


def test_budget_estimate_of_opt_in_targets():
    catalogue = load_catalogue()
    assert expected_calls(catalogue, {(LEASES, "refresh"): (1,)}) == 1  # one detail call
    assert expected_calls(catalogue, {(LEASES, "refresh"): (1, 2, 3)}) == 1  # one scan
    inspections = {("asuntotarkastukset", "refresh"): (1, 2, 3, 4, 5)}
    assert expected_calls(catalogue, inspections) == 1
    both = {(LEASES, "refresh"): (7,), **inspections, ("kohteet", "refresh"): (1, 2)}
    assert expected_calls(catalogue, both) == 1 + 1 + 2
