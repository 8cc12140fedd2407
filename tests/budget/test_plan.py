"""The call plan: from sync_state totals and probes, a sync's calls are predicted exactly
as the engine spends them (pages overlap by one row: 1 call up to 250 rows, else
1 + ceil((T - 250) / 249); one scan per active cost centre)."""

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.budget.plan import calls_for, plan_sync
from pipelines.budget.probe import probe_plan, probe_targets
from pipelines.budget.routes import load_resource_facts
from pipelines.budget.snapshot import read_snapshot
from pipelines.tampuuri.catalogue import load_catalogue

from .helpers import make_account, put_cost_centres, put_state

T0 = datetime(2025, 6, 1, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("total", "calls"),
    [(None, 1), (0, 1), (1, 1), (250, 1), (251, 2), (499, 2), (500, 3), (748, 3), (749, 4)],
)
def test_calls_for_a_scan(total, calls):
    assert calls_for(total) == calls


def test_plan_from_last_totals(engine):
    acc = make_account()
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [10, 11, 12, 13], deleted=[14])
        put_state(conn, "acme", "kustannuspaikat", cursor=T0, last_total=4, last_full=T0)
        for cc, total in [(10, 0), (11, 250), (12, 251)]:  # 13: never scanned
            put_state(conn, "acme", "kohteet", str(cc), last_total=total, last_full=T0)
        put_state(conn, "acme", "osapuoli_yhteydet", last_total=997, last_full=T0)
        put_state(conn, "acme", "ilmoitukset", cursor=T0, last_total=800, last_full=T0)
        put_state(conn, "other", "osapuoli_yhteydet", last_total=99_999)
    with engine.connect() as conn:
        plan = plan_sync(conn, load_catalogue(), acc, full=False)
        full = plan_sync(conn, None, acc, full=True)

    kp, kohteet, osapuolet, notices = plan.resources
    assert [r.resource for r in plan.resources] == [
        "kustannuspaikat",
        "kohteet",
        "osapuolet",
        "ilmoitukset",
    ]
    # Change-since resources: changed rows unknown without a probe -> 1 call each.
    assert (kp.mode, kp.calls, kp.basis) == ("incremental", 1, "unknown")
    assert (notices.mode, notices.calls, notices.basis) == ("incremental", 1, "unknown")
    # Fan-out: totals 0, 250, 251 -> 1, 1, 2 calls; the never-scanned cost centre 1.
    assert [(s.scope, s.calls) for s in kohteet.scopes] == [
        ("10", 1),
        ("11", 1),
        ("12", 2),
        ("13", 1),
    ]
    assert (kohteet.calls, kohteet.basis, kohteet.fan_out) == (5, "unknown", True)
    assert (osapuolet.calls, osapuolet.basis) == (4, "last_totals")
    assert any("per 250 osapuolet" in n for n in osapuolet.notes)
    assert plan.calls == 1 + 5 + 4 + 1
    assert plan.expected_deletion_calls == 0

    # A full run scans everything: 4 cost centres -> 1, 800 notices -> 4.
    assert [r.calls for r in full.resources] == [1, 5, 4, 4]
    assert full.calls == 14 and full.incremental is not None
    assert full.incremental.calls == plan.calls == full.daily_incremental_calls
    assert any("confirmed deletion" in n for n in full.resources[3].notes)


def test_scoped_account_plans_only_its_cost_centres(engine):
    acc = make_account(scope=(11, 12))
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [10, 11, 12])
        put_state(conn, "acme", "kohteet", "12", last_total=600)
    with engine.connect() as conn:
        plan = plan_sync(conn, None, acc, resources=["kohteet"], full=False)
    (kohteet,) = plan.resources
    assert [(s.scope, s.calls, s.basis) for s in kohteet.scopes] == [
        ("11", 1, "unknown"),
        ("12", 3, "last_totals"),
    ]


def test_first_run_plan_estimates(engine):
    acc = make_account()
    with engine.connect() as conn:
        plan = plan_sync(conn, None, acc, full=False)
        probed = plan_sync(conn, None, acc, full=False, probe_totals={("kustannuspaikat", ""): 30})
    assert [(r.mode, r.calls, r.basis) for r in plan.resources] == [
        ("full", 1, "unknown"),
        ("full", 0, "unknown"),
        ("full", 1, "unknown"),
        ("full", 1, "unknown"),
    ]
    assert any("first run" in n for n in plan.resources[0].notes)
    # With the cost centres' Total known, kohteet costs at least one call per cost centre.
    assert probed.resources[0].calls == 1 and probed.resources[0].basis == "probe"
    assert probed.resources[1].calls == 30


def test_probe_totals_make_the_plan_exact(engine):
    acc = make_account()
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [10, 11])
        put_state(conn, "acme", "kustannuspaikat", cursor=T0, last_total=2)
        put_state(conn, "acme", "kohteet", "10", last_total=300)
        put_state(conn, "acme", "osapuoli_yhteydet", last_total=520)
        put_state(conn, "acme", "ilmoitukset", cursor=T0, last_total=5000)
    probes = {
        ("kustannuspaikat", ""): 0,
        ("kohteet", "11"): 251,
        ("osapuolet", ""): 501,
        ("ilmoitukset", ""): 600,  # changed since the cursor
    }
    with engine.connect() as conn:
        plan = plan_sync(conn, None, acc, full=False, probe_totals=probes)
        full = plan_sync(conn, None, acc, full=True, probe_totals={("kohteet", "10"): 290})
    assert [(r.calls, r.basis) for r in plan.resources] == [
        (1, "probe"),
        (2 + 2, "probe"),
        (3, "probe"),
        (3, "probe"),
    ]
    # The links shrank 520 -> 501, but links are confirmed by a second scan: no calls.
    assert plan.expected_deletion_calls == 0
    # Cost centre 10 shrank 300 -> 290: 10 detail calls expected to confirm deletions.
    kohteet = full.resource("kohteet")
    assert kohteet.deletion_calls == 10 and full.expected_deletion_calls == 10
    assert full.expected_calls == full.calls + 10


def test_probe_targets_use_the_engines_change_since_filter(engine):
    acc = make_account()
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [10])
        put_state(conn, "acme", "ilmoitukset", cursor=T0)
    with engine.connect() as conn:
        snapshot = read_snapshot(conn, acc)
    facts = load_resource_facts()
    targets = probe_targets(
        snapshot,
        facts,
        resources=["kohteet", "ilmoitukset", "osapuolet"],
        full=False,
        overlap=timedelta(minutes=10),
    )
    assert [(t.resource, t.table, dict(t.filters)) for t in targets] == [
        ("osapuolet", "osapuoli_yhteydet", {}),
        ("ilmoitukset", "ilmoitukset", {"MuokattuAlku": "2025-06-01T05:50:00+03:00"}),
    ]
    with_fan_out = probe_targets(
        snapshot,
        facts,
        resources=["kohteet"],
        full=False,
        overlap=timedelta(0),
        probe_fan_out=True,
    )
    assert [(t.scope, dict(t.path_params)) for t in with_fan_out] == [("10", {"kohde_id": 10})]


async def _recording_probe(calls, totals):
    async def probe(client, route, *, path_params, filters):
        calls.append((route.template, dict(path_params), dict(filters)))
        return totals[route.template]

    return probe


def test_probe_plan_spends_one_call_per_scan(engine):
    import asyncio

    acc = make_account()
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [10])
    calls: list = []
    totals = {"kustannuspaikat/selaa": 700, "osapuolet/yhteydet/selaa": 3, "ilmoitukset/selaa": 0}

    async def run():
        with engine.connect() as conn:
            return await probe_plan(
                None,
                load_catalogue(),
                conn,
                acc,
                full=False,
                overlap=timedelta(0),
                probe=await _recording_probe(calls, totals),
            )

    plan = asyncio.run(run())
    assert len(calls) == 3 and plan.probe_calls == 3
    assert [r.calls for r in plan.resources] == [3, 1, 1, 1]
    assert {c[0] for c in calls} == set(totals)
