"""Fields the API adds are adopted, not nagged about (issue 18.5): the simulator sends fields
the typed columns lack (`Rakennusvuosi`, as the real API may grow), and `no_new_fields`
passes, naming them as metadata and in its description the first time a run sees them,
then only listing them. Real PostgreSQL, the simulator in process over HTTP."""

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
SYNC_ASSETS = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=3, scale=300, accounts=ACCOUNTS))


@pytest.fixture
def defs(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    write_accounts(sim, "http://sim/v10/api/", tmp_path, monkeypatch)
    return definitions.defs()


@pytest.fixture
def resources(sim: Simulator, warehouse_url: str) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
        "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=sim.app)),
    }


def _new_fields_checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "no_new_fields"
    }


def test_fields_the_simulator_adds_pass_with_their_names(defs, resources) -> None:
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks], partition_key=ACCOUNT, resources=resources
    )

    checks = _new_fields_checks(result)
    assert set(checks) == set(SYNC_ASSETS)
    assert all(c.passed for c in checks.values())
    # TypeId is a documented field of objects (Help pages), so only the undocumented one.
    assert checks["kohteet"].metadata["new_fields"].value == ["Lisäkenttä"]
    added = checks["kustannuspaikat"]
    assert added.metadata["new_fields"].value == ["Rakennusvuosi"]
    assert added.metadata["first_seen"].value == ["Rakennusvuosi"]
    assert added.description == (
        f"{ACCOUNT}: 1 field(s) kept in data jsonb without a typed column,"
        " first seen in this run: Rakennusvuosi"
    )


def test_a_field_is_named_as_first_seen_once(defs, resources, engine: Engine) -> None:
    assert dg.materialize(defs.assets, partition_key=ACCOUNT, resources=resources).success
    only_checks = dg.AssetSelection.checks_for_assets("osapuolet")
    seen = []
    for run_id, minutes in (("later", 1), ("latest", 2)):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ops.sync_runs (run_id, account, resource, trigger, mode,"
                    " status, started_at, finished_at, new_fields) VALUES (:run, :account,"
                    " 'osapuolet', 'manual', 'full', 'success',"
                    " now() + make_interval(mins => :minutes), now(), '[\"UusiKentta\"]')"
                ),
                {"run": run_id, "account": ACCOUNT, "minutes": minutes},
            )
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks], selection=only_checks, resources=resources
        )
        check = _new_fields_checks(result)["osapuolet"]
        assert check.passed
        # Run on its own, a check evaluates every account (the other one never synced).
        by_account = check.metadata["by_account"].value
        seen.append((by_account[ACCOUNT]["first_seen"], by_account[ACCOUNT]["new_fields"]))
    assert seen == [(["UusiKentta"], ["UusiKentta"]), ([], ["UusiKentta"])]
