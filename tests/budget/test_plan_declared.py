"""Plan lines for every asset an account syncs, opt-ins included, from the declarations
(issue 18): a change-since list plans pages of its changes, a fan-out one scan per active
row of its parent; an account without opt-ins plans the four built-ins exactly as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.budget.plan import plan_sync
from pipelines.budget.probe import probe_targets
from pipelines.budget.routes import load_resource_facts
from pipelines.budget.snapshot import read_snapshot
from pipelines.tampuuri.catalogue import load_catalogue

from .helpers import make_account, put_cost_centres, put_state

T0 = datetime(2025, 6, 1, 3, 0, tzinfo=UTC)
OPT_INS = ("vuokrasopimukset", "asuntotarkastukset", "huoltokirjan_tehtavat")
BUILT_INS = ["kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset"]


def _opting_in(**kwargs):
    return make_account(**kwargs).model_copy(update={"resources": OPT_INS})


def test_an_account_opting_in_plans_every_synced_asset(engine):
    acc = _opting_in()
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [10, 11, 12], deleted=[13])
        put_state(conn, "acme", "vuokrasopimukset", cursor=T0, last_total=900)
        put_state(conn, "acme", "asuntotarkastukset", last_total=260)
        put_state(conn, "acme", "huoltokirjan_tehtavat", "10", last_total=251)
        put_state(conn, "acme", "huoltokirjan_tehtavat", "11", last_total=40)
    with engine.connect() as conn:
        plan = plan_sync(conn, load_catalogue(), acc, full=False)
        full = plan_sync(conn, None, acc, full=True)
        plain = plan_sync(conn, None, make_account(), full=False)
    assert [r.resource for r in plan.resources] == BUILT_INS + list(OPT_INS)
    assert [r.resource for r in plain.resources] == BUILT_INS
    leases, inspections, tasks = (plan.resource(r) for r in OPT_INS)
    # Change-since with a cursor: the changes, unknown until probed (1 call).
    assert (leases.mode, leases.calls, leases.basis) == ("incremental", 1, "unknown")
    # No cursor yet: a full scan of the last Total (260 rows: 2 pages).
    assert (inspections.mode, inspections.calls) == ("full", 2)
    # One scan per active cost centre: 251 rows = 2 pages, 40 = 1, never scanned = 1.
    assert tasks.fan_out and [s.scope for s in tasks.scopes] == ["10", "11", "12"]
    assert [s.calls for s in tasks.scopes] == [2, 1, 1] and tasks.calls == 4
    # A full run reads the leases whole (900 rows = 4 pages); the tasks cost the same.
    assert full.resource("vuokrasopimukset").calls == 4
    assert full.resource("huoltokirjan_tehtavat").calls == 4
    # The built-ins' lines do not move when an account opts in.
    assert [(r.resource, r.calls) for r in plan.resources[:4]] == [
        (r.resource, r.calls) for r in plain.resources
    ]


def test_the_opt_in_fan_out_before_its_cost_centres_are_stored(engine):
    acc = _opting_in(scope=(10, 11))
    with engine.connect() as conn:
        plan = plan_sync(conn, None, acc, resources=["huoltokirjan_tehtavat"], full=True)
    (tasks,) = plan.resources
    assert tasks.calls == 2 and [s.scope for s in tasks.scopes] == ["?1", "?2"]


def test_probes_of_the_opt_in_lists_and_the_tasks_fan_out(engine):
    acc = _opting_in()
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [10, 11])
        put_state(conn, "acme", "vuokrasopimukset", cursor=T0)
    with engine.connect() as conn:
        snapshot = read_snapshot(conn, acc)
    targets = probe_targets(
        snapshot,
        load_resource_facts(),
        resources=acc.synced_assets(),
        full=False,
        overlap=timedelta(minutes=10),
        probe_fan_out=True,
    )
    listed = [(t.resource, t.scope, dict(t.path_params), dict(t.filters)) for t in targets]
    assert listed == [
        ("kustannuspaikat", "", {}, {}),
        ("kohteet", "10", {"kohde_id": 10}, {}),
        ("kohteet", "11", {"kohde_id": 11}, {}),
        ("osapuolet", "", {}, {}),
        ("ilmoitukset", "", {}, {}),
        ("vuokrasopimukset", "", {}, {"MuokattuAlku": "2025-06-01T05:50:00+03:00"}),
        ("asuntotarkastukset", "", {}, {}),
        ("huoltokirjan_tehtavat", "10", {"kohde_id": 10}, {}),
        ("huoltokirjan_tehtavat", "11", {"kohde_id": 11}, {}),
    ]
