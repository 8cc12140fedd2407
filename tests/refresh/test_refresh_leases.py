"""Leases (opt-in, issue 18): ended leases in one window cost one change-since scan; the
budget estimate of the opt-in resources' targets follows their declarations."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.webhooks.refresh import expected_calls

from .conftest import ACCOUNT, World, make_world

LEASES = "vuokrasopimukset"


@pytest.fixture
def opted(engine) -> World:
    """A simulator account opting in to leases, fully synced, counters zeroed."""
    return make_world(engine, resources=[LEASES])


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
