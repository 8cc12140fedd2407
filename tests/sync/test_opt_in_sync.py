"""The three opt-in resources synced from their declarations alone (issue 18).

An account listing vuokrasopimukset, asuntotarkastukset and huoltokirjan_tehtavat in its
`resources:` mirrors exactly the simulator's rows of each (the inspections' remarks in
their child table, each task with the cost centre its list was called for), with the
calls its plan says; an account that does not opt in makes exactly the built-ins' calls.
Simulator over HTTP (in process), real PostgreSQL.
"""

from __future__ import annotations

import math

import httpx
import pytest
from sqlalchemy import text

from pipelines.budget.plan import plan_sync
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from tests.sync.helpers import (
    account_for,
    assert_parity,
    ledger_by_key,
    minimum_full_sync_calls,
    sim_by_key,
    warehouse_rows,
)
from tests.sync.test_sync_e2e import FAST_RETRIES

OPT_INS = ["vuokrasopimukset", "asuntotarkastukset", "huoltokirjan_tehtavat"]
TASKS = "huoltokirjan_tehtavat"


def pages(total: int) -> int:
    return max(1, math.ceil(total / 250))


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=5, scale=900, accounts=("demo-a", "demo-b")))


def _account(sim, name, **extra):
    return account_for(sim, name, **extra)


def _sync(engine, sim, name, *, opt_in=True, **request):
    extra = {"resources": OPT_INS} if opt_in else {}
    account, environ = _account(sim, name, **extra)
    report = run_sync(
        engine,
        SyncRequest(account, **request),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST_RETRIES,
    )
    assert report.ok, [r.error for r in report.resources]
    return account, report


def _tasks_per_cost_centre(sim, name) -> dict[int, int]:
    per_cc = {c["Id"]: 0 for c in sim.items(name, "kustannuspaikat")}
    for task in sim.items(name, TASKS):  # the simulator files tasks under the cost centre
        per_cc[task["KohdeId"]] += 1
    return per_cc


def _opt_in_calls(sim, name) -> int:
    """The fewest calls a full read of the three takes: pages of each list, a listing per
    cost centre for the tasks."""
    return (
        pages(len(sim.items(name, "vuokrasopimukset")))
        + pages(len(sim.items(name, "asuntotarkastukset")))
        + sum(pages(n) for n in _tasks_per_cost_centre(sim, name).values())
    )


def _assert_opt_in_parity(engine, sim, name):
    for table in OPT_INS:
        expected = {item["Id"]: item for item in sim.items(name, table)}
        assert warehouse_rows(engine, name, table) == expected, table
    with engine.connect() as conn:
        remarks = conn.execute(
            text("SELECT count(*) FROM tampuuri.asuntotarkastukset_huomiot WHERE account = :a"),
            {"a": name},
        ).scalar_one()
        filed = dict(
            conn.execute(
                text(
                    f"SELECT id, kustannuspaikka_id FROM tampuuri.{TASKS}"
                    " WHERE account = :a AND deleted_at IS NULL"
                ),
                {"a": name},
            ).all()
        )
    assert remarks == sum(len(i["Huomiot"]) for i in sim.items(name, "asuntotarkastukset"))
    # The fan-out column holds the cost centre each task was listed under.
    assert filed == {t["Id"]: t["KohdeId"] for t in sim.items(name, TASKS)}


def test_full_and_incremental_sync_of_an_account_opting_in(engine, sim):
    account, full = _sync(engine, sim, "demo-a", full=True)
    assert [r.resource for r in full.resources] == [
        "kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset", *OPT_INS,
    ]  # fmt: skip
    assert full.calls == minimum_full_sync_calls(sim, "demo-a") + _opt_in_calls(sim, "demo-a")
    _assert_opt_in_parity(engine, sim, "demo-a")
    assert_parity(engine, sim, "demo-a")
    assert ledger_by_key(engine) == sim_by_key(sim)

    # Changes to each, then an incremental sync: exactly the calls planned before it.
    lease = sim.items("demo-a", "vuokrasopimukset")[0]["Id"]
    sim.apply_change("demo-a", "vuokrasopimukset", "update", id=lease)
    inspection = sim.items("demo-a", "asuntotarkastukset")[0]["Id"]
    sim.apply_change("demo-a", "asuntotarkastukset", "update", id=inspection)
    task = sim.items("demo-a", TASKS)[0]["Id"]
    sim.apply_change("demo-a", TASKS, "update", id=task)
    with engine.connect() as conn:
        planned = plan_sync(conn, None, account, full=False)
    _, incremental = _sync(engine, sim, "demo-a")
    assert incremental.calls == planned.expected_calls
    for resource in ("vuokrasopimukset", "asuntotarkastukset"):
        report = incremental.resource(resource)
        assert (report.mode, report.calls) == ("incremental", 1)
        assert report.counts.updated == 1
    assert incremental.resource(TASKS).calls == sum(
        pages(n) for n in _tasks_per_cost_centre(sim, "demo-a").values()
    )
    _assert_opt_in_parity(engine, sim, "demo-a")
    assert ledger_by_key(engine) == sim_by_key(sim)


def test_an_account_not_opting_in_makes_the_built_ins_calls_only(engine, sim):
    account, report = _sync(engine, sim, "demo-b", opt_in=False, full=True)
    assert [r.resource for r in report.resources] == [
        "kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset",
    ]  # fmt: skip
    assert report.calls == minimum_full_sync_calls(sim, "demo-b")
    routes = {route for (_, _, route, _) in ledger_by_key(engine)}
    assert not routes & {"vuokrasopimukset/selaa", "asuntotarkastukset/selaa",
                         "huoltokirja/{kohde_id}/tehtavat/selaa"}  # fmt: skip
    with engine.connect() as conn:
        assert plan_sync(conn, None, account, full=True).calls == minimum_full_sync_calls(
            sim, "demo-b"
        )


def test_a_deleted_task_is_found_by_full_scans(engine, sim):
    _sync(engine, sim, "demo-a", full=True)
    gone = sim.items("demo-a", TASKS)[0]["Id"]
    sim.apply_change("demo-a", TASKS, "delete", id=gone)
    state = text(
        f"SELECT missing_since IS NOT NULL, deleted_at IS NOT NULL FROM tampuuri.{TASKS}"
        " WHERE account = 'demo-a' AND id = :id"
    )
    expected_calls = minimum_full_sync_calls(sim, "demo-a") + _opt_in_calls(sim, "demo-a")
    # No route confirms a task: the first complete scan that misses it marks it, the
    # second deletes it; neither spends a call beyond the scans.
    _, first = _sync(engine, sim, "demo-a", full=True)
    with engine.connect() as conn:
        assert conn.execute(state, {"id": gone}).one() == (True, False)
    _, second = _sync(engine, sim, "demo-a", full=True)
    with engine.connect() as conn:
        assert conn.execute(state, {"id": gone}).one() == (True, True)
    assert first.calls == second.calls == expected_calls
    assert second.resource(TASKS).counts.deleted == 1
    _assert_opt_in_parity(engine, sim, "demo-a")


def test_scope_narrows_a_through_resource_to_the_objects_under_it(engine, sim):
    scope = [c["Id"] for c in sim.items("demo-a", "kustannuspaikat")[:2]]
    extra = {"resources": OPT_INS, "scope": scope}
    account, environ = _account(sim, "demo-a", **extra)
    report = run_sync(
        engine,
        SyncRequest(account, full=True),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST_RETRIES,
    )
    assert report.ok, [r.error for r in report.resources]
    objects = {o["Id"] for o in sim.items("demo-a", "kohteet") if o["KustannuspaikkaId"] in scope}
    for table in ("vuokrasopimukset", "asuntotarkastukset"):
        expected = {i["Id"] for i in sim.items("demo-a", table) if i["KohdeId"] in objects}
        assert set(warehouse_rows(engine, "demo-a", table)) == expected and expected, table
    tasks = {t["Id"] for t in sim.items("demo-a", TASKS) if t["KohdeId"] in scope}
    assert set(warehouse_rows(engine, "demo-a", TASKS)) == tasks
    # The tasks are listed under the two cost centres only.
    per_cc = _tasks_per_cost_centre(sim, "demo-a")
    assert report.resource(TASKS).calls == sum(pages(per_cc[cc]) for cc in scope)


def test_the_sweep_reconciles_the_opt_ins_of_an_account_opting_in(engine, sim):
    from datetime import UTC, datetime, timedelta

    from pipelines.budget.shaping import nightly_share
    from pipelines.sync.reconcile import reconcile_account

    account, _ = _sync(engine, sim, "demo-a", full=True)
    _, environ = _account(sim, "demo-a", resources=OPT_INS)
    lease = sim.items("demo-a", "vuokrasopimukset")[0]["Id"]
    sim.apply_change("demo-a", "vuokrasopimukset", "delete", id=lease)  # no webhook caught
    sim.counter.reset()
    report = reconcile_account(
        engine,
        account,
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST_RETRIES,
        now=(night := datetime.now(UTC) + timedelta(days=1)),
    )
    assert report.ok, [r.error for s in report.reports for r in s.resources]
    # Every account-wide list it syncs is probed; those with change-since read their changes.
    assert list(report.totals) == [
        "kustannuspaikat", "osapuoli_yhteydet", "ilmoitukset", "vuokrasopimukset",
        "asuntotarkastukset",
    ]  # fmt: skip
    assert report.incremental == [
        "kustannuspaikat", "ilmoitukset", "vuokrasopimukset", "asuntotarkastukset",
    ]  # fmt: skip
    # The deleted lease (Total moved): one page of leases, so a re-read is cheaper than a
    # search; its detail route's 404 confirms the deletion.
    assert report.drifted == ["vuokrasopimukset"]
    assert "vuokrasopimukset" in report.rescanned
    assert lease not in warehouse_rows(engine, "demo-a", "vuokrasopimukset")
    # Both fan-outs re-scan their share of the stalest cost centres.
    n_ccs = len(sim.items("demo-a", "kustannuspaikat"))
    assert list(report.scopes) == ["kohteet", TASKS]
    assert all(len(c) == nightly_share(n_ccs, 7, night.date()) for c in report.scopes.values())
    assert report.calls == sim.counter.total("demo-a")
    _assert_opt_in_parity(engine, sim, "demo-a")
