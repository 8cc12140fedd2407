"""Blocking checks in a real run (PostgreSQL warehouse, the simulator over HTTP): a
doubled open history version in kustannuspaikat fails its blocking `no_duplicate_ids`
check, and the assets that depend on it are not run: no rows, no API calls. Only that
check blocks; the others describe the source or time and let the run go on."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
import pytest
from sqlalchemy import Engine, text

from pipelines import definitions
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.simulator import Simulator, SimulatorConfig
from tests.dagster.sim_accounts import ACCOUNTS, write_accounts

ACCOUNT = ACCOUNTS[0]
DOWNSTREAM = {"kohteet", "osapuolet", "ilmoitukset", "call_budget"}
DOUBLE_AN_OPEN_VERSION = [
    "DROP INDEX tampuuri.kustannuspaikat_history_open_idx",
    "INSERT INTO tampuuri.kustannuspaikat_history"
    " SELECT account, id, valid_from + interval '1 second', NULL, deleted,"
    " row_hash, data, run_id FROM tampuuri.kustannuspaikat_history"
    f" WHERE account = '{ACCOUNT}' AND valid_to IS NULL ORDER BY id LIMIT 1",
]


@pytest.fixture
def simulator() -> Simulator:
    return Simulator(SimulatorConfig(seed=5, scale=100, accounts=ACCOUNTS))


@pytest.fixture
def code_location(
    simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dg.Definitions:
    write_accounts(simulator, "http://sim/v10/api/", tmp_path, monkeypatch)
    return definitions.defs()


def _materialize(
    defs: dg.Definitions, simulator: Simulator, warehouse_url: str
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        partition_key=ACCOUNT,
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
            "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=simulator.app)),
        },
        raise_on_error=False,
    )


def _calls(engine: Engine, run_id: str) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT resource, count(*) AS calls FROM ops.sync_runs r"
                " JOIN ops.api_calls c USING (run_id) WHERE r.run_id = :run GROUP BY resource"
            ),
            {"run": run_id},
        ).all()
    return {r.resource: r.calls for r in rows}


def test_only_the_duplicate_history_check_blocks(code_location: dg.Definitions) -> None:
    checks = code_location.get_repository_def().asset_graph.asset_check_keys
    blocking = {
        (key.asset_key.to_user_string(), key.name)
        for key in checks
        if code_location.get_repository_def().asset_graph.get_check_spec(key).blocking
    }
    synced = {"kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset"}
    assert blocking == {(asset, "no_duplicate_ids") for asset in synced}


def test_a_failed_blocking_check_stops_what_depends_on_the_table(
    code_location: dg.Definitions, simulator: Simulator, warehouse_url: str, engine: Engine
) -> None:
    healthy = _materialize(code_location, simulator, warehouse_url)
    assert healthy.success
    assert {e.asset_key.to_user_string() for e in healthy.get_asset_materialization_events()} == {
        "kustannuspaikat",
        *DOWNSTREAM,
    }
    with engine.begin() as conn:
        for statement in DOUBLE_AN_OPEN_VERSION:
            conn.execute(text(statement))

    result = _materialize(code_location, simulator, warehouse_url)

    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"kustannuspaikat"}
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    doubled = evaluations[("kustannuspaikat", "no_duplicate_ids")]
    assert not doubled.passed
    assert doubled.severity == dg.AssetCheckSeverity.ERROR
    assert doubled.description.startswith(f"{ACCOUNT}: ids with more than one open version")
    # No check of a downstream asset ran, and no downstream step started.
    assert {asset for asset, _ in evaluations} == {"kustannuspaikat"}
    started = {
        e.step_key for e in result.all_events if e.event_type_value == "STEP_START" and e.step_key
    }
    assert not started & DOWNSTREAM
    # The blocked run called the API for kustannuspaikat only (its incremental sync).
    calls = _calls(engine, result.run_id)
    assert set(calls) == {"kustannuspaikat"}
    with engine.connect() as conn:
        later_runs = conn.execute(
            text("SELECT count(*) FROM ops.sync_runs WHERE run_id = :run"),
            {"run": result.run_id},
        ).scalar_one()
    assert later_runs == 1
