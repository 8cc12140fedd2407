"""The opt-in assets run by Dagster against the in-process simulator and a real PostgreSQL,
tested like the four built-ins (test_dagster_materialize): for an account opting in to all
three, materialising every asset loads exactly the simulator's rows (the inspections'
remarks into their child table), every check passes on the first run (new fields are
metadata, never a warning), and the calls of the run equal the ledger and the simulator's
count."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml
from sqlalchemy import Engine, text

from pipelines import definitions
from pipelines.declarations import load_declarations
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.simulator import Simulator, SimulatorConfig
from tests.dagster.test_dagster_materialize import _checks, _transactions

BASE_URL = "http://sim/v10/api/"
ACCOUNT = "demo-a"
OPT_IN = ("vuokrasopimukset", "asuntotarkastukset", "huoltokirjan_tehtavat")
CHECKS = ("row_count_matches_api_total", "no_duplicate_ids", "fresh", "no_new_fields")


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=3, scale=300, accounts=(ACCOUNT,)))


@pytest.fixture
def defs(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    creds = sim.credentials(ACCOUNT)
    variables = {}
    for key in ("api_key", "customer_name", "account_name", "username", "password"):
        variables[key] = f"T_OPT_{key.upper()}"
        monkeypatch.setenv(variables[key], getattr(creds, key))
    account = {
        "name": ACCOUNT,
        "base_url": BASE_URL,
        "package": "normal",
        "credentials": variables,
        "resources": list(OPT_IN),
    }
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": [account]}), encoding="utf-8")
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(path))
    return definitions.defs()


def test_opt_in_assets_mirror_the_simulator_and_their_checks_pass(
    defs: dg.Definitions, sim: Simulator, warehouse_url: str, engine: Engine
) -> None:
    resources = {
        "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
        "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=sim.app)),
    }
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks], partition_key=ACCOUNT, resources=resources
    )
    assert result.success
    checks = _checks(result)
    assert len(checks) == 7 * 6 + 1
    assert {k for k, passed in checks.items() if not passed} == set()
    for asset in OPT_IN:
        assert all(checks[(asset, name)] for name in CHECKS)
    metadata = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    declarations = load_declarations()
    for asset in OPT_IN:
        items = sim.items(ACCOUNT, asset)
        children = [
            (child.table, sum(len(item.get(child.field) or []) for item in items))
            for child in declarations[asset].spec.children
        ]
        assert metadata[asset]["status"].value == "success"
        # The counts are the resource's rows; child rows go with their parents.
        assert metadata[asset]["rows_inserted"].value == len(items)
        assert metadata[asset]["rows_updated"].value == 0
        assert metadata[asset]["api_calls"].value > 0
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT id, data FROM tampuuri.{asset}"
                    " WHERE account = :account AND deleted_at IS NULL ORDER BY id"
                ),
                {"account": ACCOUNT},
            ).all()
            assert [r.id for r in rows] == [i["Id"] for i in items], asset
            assert [r.data for r in rows] == items, asset
            for table, expected in children:
                stored = conn.execute(
                    text(f"SELECT count(*) FROM tampuuri.{table} WHERE account = :account"),
                    {"account": ACCOUNT},
                ).scalar_one()
                assert stored == expected > 0, table
    calls = sum(m["api_calls"].value for a, m in metadata.items() if a != "call_budget")
    with engine.connect() as conn:
        ledger = conn.execute(
            text("SELECT count(*) FROM ops.api_calls WHERE run_id = :run"),
            {"run": result.run_id},
        ).scalar_one()
    assert calls == ledger == _transactions(sim, ACCOUNT)
