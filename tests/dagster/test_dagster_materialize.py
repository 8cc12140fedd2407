"""Assets and checks run by Dagster against the in-process simulator and a real
PostgreSQL: materialising the four assets for two account partitions leaves a warehouse
equal to the simulator's state, with metadata that counts rows and calls exactly; each
check passes on that healthy warehouse and fails on a crafted broken one; a sync that
fails becomes a Dagster failure after its ops.sync_runs row is written."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dagster as dg
import httpx
import pytest
from sqlalchemy import Engine, text

from pipelines import definitions
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.simulator import Simulator, SimulatorConfig
from tests.dagster.sim_accounts import ACCOUNTS, TABLES, write_accounts

BASE_URL = "http://sim/v10/api/"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=3, scale=300, accounts=ACCOUNTS))


@pytest.fixture
def defs(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    write_accounts(sim, BASE_URL, tmp_path, monkeypatch)
    return definitions.defs()


@pytest.fixture
def resources(sim: Simulator, warehouse_url: str) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
        "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=sim.app)),
    }


def _run(defs: dg.Definitions, resources, account: str, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        partition_key=account,
        resources=resources,
        **kwargs,
    )


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], bool]:
    return {
        (e.asset_key.to_user_string(), e.check_name): e.passed
        for e in result.get_asset_check_evaluations()
    }


def _transactions(sim: Simulator, account: str) -> int:
    async def fetch() -> int:
        transport = httpx.ASGITransport(app=sim.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            response = await client.get("/_sim/transactions", params={"account": account})
            return int(response.json()["total"])

    return asyncio.run(fetch())


def test_materialize_all_assets_mirrors_the_simulator(
    defs: dg.Definitions, resources, sim: Simulator, engine: Engine
) -> None:
    for account in ACCOUNTS:
        result = _run(defs, resources, account)
        assert result.success
        checks = _checks(result)
        assert len(checks) == 25  # six per sync asset, one on the budget
        # Green out of the box, although the simulator sends fields the typed columns lack
        # (test_dagster_new_fields: named as metadata, never a warning).
        assert {k for k, passed in checks.items() if not passed} == set()
        metadata = {
            e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()
        }
        budget = metadata.pop("call_budget")
        assert set(metadata) == {"kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset"}
        for asset in ("kustannuspaikat", "kohteet", "ilmoitukset"):
            assert metadata[asset]["rows_inserted"].value == len(sim.items(account, asset))
            assert metadata[asset]["rows_updated"].value == 0
            assert metadata[asset]["status"].value == "success"
        links = len(sim.items(account, "osapuoli_yhteydet"))
        parties = len(sim.items(account, "osapuolet"))
        assert metadata["osapuolet"]["rows_inserted"].value == links + parties
        calls = sum(m["api_calls"].value for m in metadata.values())
        with engine.connect() as conn:
            ledger = conn.execute(
                text("SELECT count(*) FROM ops.api_calls WHERE run_id = :run"),
                {"run": result.run_id},
            ).scalar_one()
        assert calls == ledger == _transactions(sim, account)
        # Each asset's budget line counts the account's calls so far this month: the first
        # asset only its own, the last one every call of the run.
        used = {a: m["calls_this_month"].value for a, m in metadata.items()}
        assert used["kustannuspaikat"].startswith(
            f"{metadata['kustannuspaikat']['api_calls'].value:,} / 40,000 ("
        )
        assert max(int(u.split(" / ")[0].replace(",", "")) for u in used.values()) == calls
        # The call budget runs after the syncs and counts all of this run's calls.
        assert budget["used_calls"].value == calls
        assert budget["included_calls"].value == 40_000
        assert budget["level"].value == "ok"
        assert budget["chart"].value.startswith("![calls per day](data:image/png;base64,")

    with engine.connect() as conn:
        for account in ACCOUNTS:
            for table in TABLES:
                rows = conn.execute(
                    text(
                        f"SELECT id, data FROM tampuuri.{table}"
                        " WHERE account = :account AND deleted_at IS NULL ORDER BY id"
                    ),
                    {"account": account},
                ).all()
                expected = sim.items(account, table)
                assert [r.id for r in rows] == [i["Id"] for i in expected], table
                assert [r.data for r in rows] == expected, table


def test_each_check_fails_on_a_broken_warehouse(
    defs: dg.Definitions, resources, engine: Engine
) -> None:
    for account in ACCOUNTS:
        assert _run(defs, resources, account).success
    # The checks alone, without re-syncing: run unpartitioned they evaluate every account,
    # and a failure names the broken one (only demo-a is broken below).
    only_checks = dg.AssetSelection.checks_for_assets(
        "kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset"
    )
    breaks = [
        (
            ("kohteet", "row_count_matches_api_total"),
            [
                "DELETE FROM tampuuri.kohteet WHERE account = 'demo-a' AND id ="
                " (SELECT min(id) FROM tampuuri.kohteet WHERE account = 'demo-a')"
            ],
        ),
        (
            ("kustannuspaikat", "no_duplicate_ids"),
            [
                "DROP INDEX tampuuri.kustannuspaikat_history_open_idx",
                "INSERT INTO tampuuri.kustannuspaikat_history"
                " SELECT account, id, valid_from + interval '1 second', NULL, deleted,"
                " row_hash, data, run_id FROM tampuuri.kustannuspaikat_history"
                " WHERE account = 'demo-a' AND valid_to IS NULL ORDER BY id LIMIT 1",
            ],
        ),
        (
            ("ilmoitukset", "fresh"),
            [
                "UPDATE ops.sync_state SET last_success_at = now() - interval '27 hours'"
                " WHERE account = 'demo-a' AND resource = 'ilmoitukset'"
            ],
        ),
    ]
    failing: set[tuple[str, str]] = set()
    for check, statements in breaks:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
        failing.add(check)
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],
            selection=only_checks,
            resources=resources,
            raise_on_error=False,
        )
        # no_duplicate_ids blocks (test_dagster_blocking): once it fails, so does the run.
        assert result.success == (("kustannuspaikat", "no_duplicate_ids") not in failing)
        evaluations = _checks(result)
        assert len(evaluations) == 24
        assert {k for k, passed in evaluations.items() if not passed} == failing
        broken = next(
            e
            for e in result.get_asset_check_evaluations()
            if (e.asset_key.to_user_string(), e.check_name) == check
        )
        assert broken.description.startswith("demo-a: ")
        assert "demo-b" not in broken.description
    severities = {
        (e.asset_key.to_user_string(), e.check_name): e.severity
        for e in result.get_asset_check_evaluations()
    }
    assert severities[("ilmoitukset", "fresh")] == dg.AssetCheckSeverity.ERROR


def test_failed_sync_is_a_dagster_failure_after_its_run_row(
    defs: dg.Definitions, resources, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-password-123"
    monkeypatch.setenv("T_DEMO_B_PASSWORD", wrong)
    result = _run(defs, resources, "demo-b", raise_on_error=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["kustannuspaikat"]
    description = failures[0].step_failure_data.user_failure_data.description
    assert "demo-b kustannuspaikat failed" in description
    assert wrong not in description
    assert result.get_asset_materialization_events() == []
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT resource, status FROM ops.sync_runs WHERE run_id = :run"),
            {"run": result.run_id},
        ).all()
    assert [(r.resource, r.status) for r in rows] == [("kustannuspaikat", "failed")]


def test_reconcile_job_settles_a_deleted_link_and_reports_it(
    defs: dg.Definitions, resources, sim: Simulator, engine: Engine
) -> None:
    """The sweep job after a sync: a link deleted in Tampuuri (no webhook exists for it)
    drifts the link list; the sweep settles it the same night and its metadata says what
    it found and spent."""
    account = ACCOUNTS[0]
    assert _run(defs, resources, account).success
    link = sim.items(account, "osapuoli_yhteydet")[0]["Id"]
    sim.apply_change(account, "osapuoli_yhteydet", "delete", id=link)
    before = _transactions(sim, account)
    result = defs.get_job_def("reconcile_sweep").execute_in_process(
        run_config={"ops": {"reconcile": {"config": {"account": account}}}},
        resources=resources,
    )
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.event_specific_data.metadata.items()}
    assert metadata["drifted"] == "osapuoli_yhteydet"
    assert metadata["drift_deferred"] == "none"
    # A one-page list: searching it would not be cheaper than reading it again.
    located = metadata["drift_located"]["osapuoli_yhteydet"]
    assert located["settled"] is False and "cheaper" in located["reason"]
    assert metadata["calls"] == result.output_for_node("reconcile")
    assert metadata["calls"] == _transactions(sim, account) - before
    # What the sweep wrote shows on the account's asset partitions.
    materialized = {
        (m.asset_key.to_user_string(), m.partition, m.metadata["deleted"].value)
        for m in result.asset_materializations_for_node("reconcile")
    }
    assert ("osapuolet", account, 1) in materialized
    with engine.connect() as conn:
        deleted = conn.execute(
            text(
                "SELECT deleted_at IS NOT NULL FROM tampuuri.osapuoli_yhteydet"
                " WHERE account = :a AND id = :id"
            ),
            {"a": account, "id": link},
        ).scalar_one()
    assert deleted
