"""The `dagster` CLI itself loads the code location and materialises an asset partition
in a subprocess, against the simulator over a real socket and a real PostgreSQL, with
configuration only from environment variables (as a deployment has it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, text

from pipelines.settings import PROJECT_ROOT
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from tests.dagster.sim_accounts import ACCOUNTS, credential_env

pytestmark = pytest.mark.e2e


def test_dagster_asset_materialize_subprocess(
    tmp_path: Path, warehouse_url: str, engine: Engine
) -> None:
    sim = Simulator(SimulatorConfig(seed=3, scale=300, accounts=ACCOUNTS))
    with serve_in_thread(sim) as api_url:
        accounts = [
            {
                "name": name,
                "base_url": f"{api_url}/v10/api/",
                "package": "normal",
                "credentials": {
                    key: f"T_{name.upper().replace('-', '_')}_{key.upper()}"
                    for key in ("api_key", "customer_name", "account_name", "username", "password")
                },
            }
            for name in ACCOUNTS
        ]
        accounts_file = tmp_path / "accounts.yaml"
        accounts_file.write_text(yaml.safe_dump({"accounts": accounts}), encoding="utf-8")
        home = tmp_path / "dagster_home"
        home.mkdir()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TAMPUURI_")},
            **credential_env(sim),
            "TAMPUURI_ACCOUNTS_FILE": str(accounts_file),
            "TAMPUURI_DATABASE_URL": warehouse_url,
            "DAGSTER_HOME": str(home),
        }
        dagster = Path(sys.executable).parent / "dagster"
        completed = subprocess.run(
            [
                str(dagster),
                "asset",
                "materialize",
                "-m",
                "pipelines.definitions",
                "--select",
                "kustannuspaikat",
                "--partition",
                "demo-a",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT account, count(*) FROM tampuuri.kustannuspaikat"
                " WHERE deleted_at IS NULL GROUP BY account"
            )
        ).all()
        runs = conn.execute(
            text("SELECT account, resource, trigger, status FROM ops.sync_runs")
        ).all()
    assert [(r[0], r[1]) for r in rows] == [("demo-a", len(sim.items("demo-a", "kustannuspaikat")))]
    assert [tuple(r) for r in runs] == [("demo-a", "kustannuspaikat", "manual", "success")]
    # No secret reaches Dagster's output.
    for secret in (sim.credentials("demo-a").api_key, sim.credentials("demo-a").password):
        assert secret not in completed.stdout + completed.stderr
