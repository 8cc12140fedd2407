"""`calls_as_planned`: a sync records its plan per asset (ops.sync_runs.planned_calls), and
the check compares the last planned run's calls with it, setting retries and deletion
proofs aside. A fault-free sync meets its plan exactly; a list that drifts while paged
costs re-reads, which the check names."""

from __future__ import annotations

import dataclasses

import httpx
from sqlalchemy import text

from pipelines.assets.check_queries import calls_as_planned
from pipelines.settings import load_sync_settings
from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from tests.sync.helpers import account_for

FAST = dataclasses.replace(load_sync_settings(), backoff_initial_s=0.001, backoff_max_s=0.01)


def _sync(engine, sim, **request):
    account, environ = account_for(sim, "demo-a")
    return run_sync(
        engine,
        SyncRequest(account, **request),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST,
    )


def test_a_fault_free_sync_spends_its_plan_and_a_drifting_one_is_named(engine) -> None:
    sim = Simulator(SimulatorConfig(seed=3, scale=2000, accounts=("demo-a",)))
    first = _sync(engine, sim, full=True)
    assert first.ok
    with engine.connect() as conn:
        # A first sync knows no totals: it plans nothing per asset, the check has no case.
        unknown = conn.execute(
            text("SELECT count(*) FROM ops.sync_runs WHERE planned_calls IS NOT NULL")
        ).scalar_one()
        assert unknown == 0
        assert calls_as_planned(conn, "demo-a", "kohteet").passed
    second = _sync(engine, sim, full=True)
    assert second.ok
    with engine.connect() as conn:
        planned = dict(
            conn.execute(
                text(
                    "SELECT resource, planned_calls FROM ops.sync_runs"
                    " WHERE account = 'demo-a' AND run_id = :run"
                ),
                {"run": second.run_id},
            ).all()
        )
        outcomes = {a: calls_as_planned(conn, "demo-a", a) for a in planned}
    assert set(planned) == {"kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset"}
    assert all(n is not None and n > 0 for n in planned.values())
    assert all(o.passed for o in outcomes.values()), {a: o.description for a, o in outcomes.items()}

    sim.faults.configure(
        FaultConfig(
            drift_rate=1.0,
            drift_patterns=("delete_read",),
            drift_resources=("osapuoli_yhteydet",),
            drift_max=3,
            seed=2,
        )
    )
    assert _sync(engine, sim, full=True, resources=("osapuolet",)).ok
    with engine.connect() as conn:
        outcome = calls_as_planned(conn, "demo-a", "osapuolet")
    assert not outcome.passed
    assert "beyond the plan's" in outcome.description
    assert outcome.metadata["calls"] > outcome.metadata["planned_calls"]


def test_no_planned_run_yet_passes_saying_so(engine) -> None:
    with engine.connect() as conn:
        outcome = calls_as_planned(conn, "demo-a", "kohteet")
    assert outcome.passed and "no planned run" in outcome.description
