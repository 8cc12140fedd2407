"""The sync core end to end: simulator over HTTP (in process) into a real PostgreSQL.

Protects the issue's promises: after a full sync the warehouse equals the simulator for
every resource and account; after changes and an incremental sync it still does, with
deletions soft-deleted and history written; faults do not break parity; a fault-free full
sync makes exactly the minimum number of calls; the call ledger equals the simulator's own
transaction report in every scenario.
"""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from sqlalchemy import text

from pipelines.settings import ConfigError, SyncSettings, load_sync_settings
from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.tampuuri.catalogue import load_catalogue
from tests.sync.helpers import (
    account_for,
    assert_parity,
    ledger_by_key,
    ledger_total,
    minimum_full_sync_calls,
    run_times,
    sim_by_key,
    warehouse_rows,
)

ACCOUNTS = ("demo-a", "demo-b")
FAST_RETRIES = dataclasses.replace(
    load_sync_settings(), backoff_initial_s=0.001, backoff_max_s=0.01, max_attempts=8
)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=5, scale=900, accounts=ACCOUNTS))


def sync(
    engine,
    sim,
    name,
    *,
    settings: SyncSettings | None = None,
    catalogue=None,
    account_options: dict | None = None,
    **request,
):
    account, environ = account_for(sim, name, **(account_options or {}))
    return run_sync(
        engine,
        SyncRequest(account, **request),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=settings or FAST_RETRIES,
        catalogue=catalogue,
    )


def test_full_sync_mirrors_every_account_with_the_minimum_calls(engine, sim):
    for name in ACCOUNTS:
        report = sync(engine, sim, name, full=True)
        assert report.ok, [r.error for r in report.resources]
        assert report.calls == minimum_full_sync_calls(sim, name)
        assert report.retries == 0
        assert ledger_total(engine, name) == report.calls
        assert_parity(engine, sim, name)
    assert ledger_by_key(engine) == sim_by_key(sim)
    # Accounts are kept apart: the same table holds both, keyed by account.
    assert (
        warehouse_rows(engine, "demo-a", "kohteet")
        .keys()
        .isdisjoint(warehouse_rows(engine, "demo-b", "kohteet").keys())
    )
    with engine.connect() as conn:
        history = conn.execute(
            text("SELECT count(*) FROM tampuuri.kohteet_history WHERE valid_to IS NULL")
        ).scalar_one()
        runs = conn.execute(
            text("SELECT count(*) FROM ops.sync_runs WHERE status = 'success'")
        ).scalar_one()
    assert history == sum(len(sim.items(a, "kohteet")) for a in ACCOUNTS)
    assert runs == 2 * 4


def test_second_full_sync_writes_nothing(engine, sim):
    sync(engine, sim, "demo-a", full=True)
    report = sync(engine, sim, "demo-a", full=True)
    assert report.ok
    for resource in report.resources:
        assert resource.counts.inserted == resource.counts.updated == resource.counts.deleted == 0
    assert report.calls == minimum_full_sync_calls(sim, "demo-a")


def test_incremental_after_changes_inserts_and_deletes_keeps_parity(engine, sim):
    sync(engine, sim, "demo-a", full=True)
    apartment = next(o for o in sim.items("demo-a", "kohteet") if o["Metaname"] == "huoneisto")
    link = sim.items("demo-a", "osapuoli_yhteydet")[3]
    party = sim.items("demo-a", "osapuoli_yhteydet")[7]["OsapuoliId"]
    notice = sim.items("demo-a", "ilmoitukset")[0]["Id"]
    sim.apply_change(
        "demo-a", "kohteet", "update", id=apartment["Id"], fields={"Nimi": "Uusi nimi"}
    )
    sim.apply_change("demo-a", "osapuoli_yhteydet", "delete", id=link["Id"])
    sim.apply_change("demo-a", "osapuolet", "delete", id=party)
    sim.apply_change("demo-a", "ilmoitukset", "update", id=notice, fields={"Tila": "Tehty"})
    new_notice = sim.apply_change("demo-a", "ilmoitukset", "insert", fields={}).id
    sim.random_changes("demo-a", 40, seed=3)

    report = sync(engine, sim, "demo-a")
    assert report.ok, [r.error for r in report.resources]
    assert report.resource("ilmoitukset").mode == "incremental"
    assert report.resource("kustannuspaikat").mode == "incremental"
    assert_parity(engine, sim, "demo-a")
    assert new_notice in warehouse_rows(engine, "demo-a", "ilmoitukset")
    assert link["Id"] in warehouse_rows(engine, "demo-a", "osapuoli_yhteydet", active=False)
    assert party in warehouse_rows(engine, "demo-a", "osapuolet", active=False)
    with engine.connect() as conn:
        versions = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL)"
                " FROM tampuuri.kohteet_history WHERE account = 'demo-a' AND id = :id"
            ),
            {"id": apartment["Id"]},
        ).one()
        marker = conn.execute(
            text(
                "SELECT deleted FROM tampuuri.osapuoli_yhteydet_history"
                " WHERE account = 'demo-a' AND id = :id AND valid_to IS NULL"
            ),
            {"id": link["Id"]},
        ).scalar_one()
    assert tuple(versions) == (2, 1)
    assert marker is True
    assert ledger_by_key(engine) == sim_by_key(sim)


def test_deleted_notice_is_found_by_a_full_scan_and_confirmed_by_one_detail_call(engine, sim):
    sync(engine, sim, "demo-a", full=True)
    notice = sim.items("demo-a", "ilmoitukset")[5]["Id"]
    sim.apply_change("demo-a", "ilmoitukset", "delete", id=notice)
    # A change-since scan cannot see a deletion: the row stays until a full scan.
    sync(engine, sim, "demo-a", resources=("ilmoitukset",))
    assert notice in warehouse_rows(engine, "demo-a", "ilmoitukset")
    before = ledger_total(engine)
    report = sync(engine, sim, "demo-a", resources=("ilmoitukset",), full=True)
    assert report.resource("ilmoitukset").counts.deleted == 1
    total = len(sim.items("demo-a", "ilmoitukset"))
    assert ledger_total(engine) - before == -(-total // 250) + 1  # list pages + one 404
    assert_parity(engine, sim, "demo-a")


def test_faults_do_not_break_parity_and_the_ledger_counts_every_attempt(engine, sim):
    sim.faults.configure(
        FaultConfig(
            error_rate=0.1, rate_limit_rate=0.05, retry_after_s=0.01, truncate_rate=0.05, seed=9
        )
    )
    for name in ACCOUNTS:
        report = sync(engine, sim, name, full=True)
        assert report.ok, [r.error for r in report.resources]
        assert_parity(engine, sim, name)
        assert report.retries > 0
    assert ledger_by_key(engine) == sim_by_key(sim)
    statuses = {key[3] for key in ledger_by_key(engine)}
    assert {200, 429} <= statuses and statuses & {500, 502, 503}


def test_paging_drift_never_deletes_a_live_row_and_the_next_sync_converges(engine, sim):
    sync(engine, sim, "demo-a", full=True)
    sim.faults.configure(FaultConfig(drift_rate=0.3, seed=4))
    drifted = sync(engine, sim, "demo-a", full=True)
    assert drifted.ok
    sim.faults.configure(FaultConfig())
    existing = {
        table: {i["Id"] for i in sim.items("demo-a", table, visible_only=False)}
        for table in ("kohteet", "ilmoitukset", "osapuoli_yhteydet")
    }
    for table, ids in existing.items():
        wrongly_deleted = set(warehouse_rows(engine, "demo-a", table, active=False)) & ids
        assert not wrongly_deleted, f"{table}: live rows soft-deleted {sorted(wrongly_deleted)[:5]}"
    report = sync(engine, sim, "demo-a", full=True)
    assert report.ok
    # Links have no detail route: a second complete scan confirms their deletion.
    sync(engine, sim, "demo-a", full=True)
    assert_parity(engine, sim, "demo-a")
    assert ledger_by_key(engine) == sim_by_key(sim)


def test_objects_without_rights_are_skipped_and_reported(engine):
    sim = Simulator(SimulatorConfig(seed=8, scale=900, accounts=("demo-a",), forbidden_share=0.34))
    forbidden = sim.forbidden_cost_centres("demo-a")
    assert forbidden
    report = sync(engine, sim, "demo-a", full=True)
    assert report.ok
    assert_parity(engine, sim, "demo-a")
    objects = report.resource("kohteet")
    assert sorted(s["scope"]["kohde_id"] for s in objects.skipped) == forbidden
    assert objects.status == "success"
    assert ledger_by_key(engine)[("demo-a", "POST", "kohteet/{kohde_id}/selaa", 403)] == len(
        forbidden
    )


def test_objects_wait_for_the_cost_centres_while_links_and_notices_run_beside_them(engine, sim):
    report = sync(engine, sim, "demo-a", full=True)
    assert report.ok
    runs = {resource: (started, finished) for resource, started, finished in run_times(
        engine, report.run_id
    )}  # fmt: skip
    cost_centres_done = runs["kustannuspaikat"][1]
    assert runs["kohteet"][0] >= cost_centres_done
    assert runs["osapuolet"][0] < cost_centres_done
    assert runs["ilmoitukset"][0] < cost_centres_done
    assert [r.resource for r in report.resources] == [
        "kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset",
    ]  # fmt: skip


def test_wrong_credentials_fail_clearly_and_write_no_rows(engine, sim):
    account, environ = account_for(sim, "demo-a")
    environ = {**environ, "DEMO_A_PASSWORD": "väärä-salasana-123"}
    report = run_sync(
        engine,
        SyncRequest(account, full=True),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST_RETRIES,
    )
    assert not report.ok
    errors = " ".join(r.error or "" for r in report.resources)
    assert "401" in errors and "demo-a" in errors
    assert "väärä-salasana-123" not in errors
    assert report.calls == 1  # a 401 is final: no retries, later resources not run
    assert warehouse_rows(engine, "demo-a", "kustannuspaikat") == {}
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT DISTINCT status FROM ops.sync_runs")).scalars().all()
    assert statuses == ["failed"]


def test_catalogue_without_change_since_falls_back_to_full_scans(engine, sim):
    catalogue = load_catalogue()
    resources = dict(catalogue.resources)
    for name in ("kustannuspaikat", "ilmoitukset"):
        resources[name] = dataclasses.replace(resources[name], change_since=None)
    catalogue = dataclasses.replace(catalogue, resources=resources)
    sync(engine, sim, "demo-a", full=True, catalogue=catalogue)
    notice = sim.items("demo-a", "ilmoitukset")[2]["Id"]
    sim.apply_change("demo-a", "ilmoitukset", "delete", id=notice)
    sim.random_changes("demo-a", 20, seed=5)
    report = sync(engine, sim, "demo-a", catalogue=catalogue)
    assert report.ok
    assert report.resource("ilmoitukset").mode == "full"
    assert notice in warehouse_rows(engine, "demo-a", "ilmoitukset", active=False)
    assert_parity(engine, sim, "demo-a")


def test_a_secret_no_header_can_carry_fails_before_any_call(engine, sim):
    """A password read from a file with its line break: named, not shown, nothing sent."""
    account, environ = account_for(sim, "demo-a")
    environ = {**environ, "DEMO_A_PASSWORD": environ["DEMO_A_PASSWORD"] + "\n"}
    with pytest.raises(ConfigError, match="DEMO_A_PASSWORD") as caught:
        run_sync(
            engine,
            SyncRequest(account, full=True),
            transport=httpx.ASGITransport(app=sim.app),
            environ=environ,
            settings=FAST_RETRIES,
        )
    assert environ["DEMO_A_PASSWORD"].strip() not in str(caught.value)
    assert sum(row["count"] for row in sim.transactions()) == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ops.api_calls")).scalar_one() == 0
