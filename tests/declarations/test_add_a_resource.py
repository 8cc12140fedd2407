"""docs/adding-a-resource.md, done exactly as the page says, with a route the simulator
serves generically (`GET avaimet/selaa`, keys): the declaration from the page is written
into a config folder, `tampuuri-sync db upgrade` creates the table, its history and its BI
view, the asset appears in Dagster with its checks, and `tampuuri-sync sync` mirrors the
account's keys exactly, in the drift-free minimum of calls. No code changes."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, text

from pipelines import definitions
from pipelines.settings import CONFIG_DIR, PROJECT_ROOT
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from tests.cli_process import run_cli_process

PAGE = PROJECT_ROOT / "docs" / "adding-a-resource.md"
ACCOUNT = "keys-a"
KEYS = ("api_key", "customer_name", "account_name", "username", "password")


def _declaration_from_the_page() -> str:
    """The page's first YAML block: the declaration a user copies."""
    blocks = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    assert blocks and blocks[0].startswith("# config/resources/avaimet.yaml"), blocks[:1]
    return blocks[0]


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=4, scale=300, accounts=(ACCOUNT,)))


def _environment(sim: Simulator, base_url: str, tmp_path: Path, warehouse_url: str) -> dict:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    (config / "resources" / "avaimet.yaml").write_text(
        _declaration_from_the_page(), encoding="utf-8"
    )
    creds = sim.credentials(ACCOUNT)
    account = {
        "name": ACCOUNT,
        "base_url": base_url,
        "package": "normal",
        "credentials": {key: f"KEYS_{key.upper()}" for key in KEYS},
        "resources": ["avaimet"],
    }
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(yaml.safe_dump({"accounts": [account]}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMPUURI_")}
    env.update({f"KEYS_{key.upper()}": getattr(creds, key) for key in KEYS})
    env.update(
        TAMPUURI_CONFIG_DIR=str(config),
        TAMPUURI_ACCOUNTS_FILE=str(accounts),
        TAMPUURI_DATABASE_URL=warehouse_url,
        COLUMNS="200",
    )
    return env


def test_a_route_added_by_following_the_page(
    sim: Simulator, tmp_path: Path, warehouse_url: str, engine: Engine, monkeypatch
) -> None:
    with serve_in_thread(sim) as api_url:
        env = _environment(sim, f"{api_url}/v10/api/", tmp_path, warehouse_url)

        upgraded = run_cli_process(["db", "upgrade"], env)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        with engine.connect() as conn:
            made = (
                conn.execute(
                    text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
                        " WHERE table_name LIKE 'avaimet%' ORDER BY 1"
                    )
                )
                .scalars()
                .all()
            )
        assert made == ["bi.avaimet", "tampuuri.avaimet", "tampuuri.avaimet_history"]

        for key, value in env.items():
            if key.startswith(("TAMPUURI_", "KEYS_")):
                monkeypatch.setenv(key, value)
        graph = definitions.defs().get_repository_def().asset_graph
        assert "avaimet" in {k.to_user_string() for k in graph.get_all_asset_keys()}
        checks = {
            k.name for k in graph.asset_check_keys if k.asset_key.to_user_string() == "avaimet"
        }
        assert {"no_duplicate_ids", "fresh", "row_count_matches_api_total"} <= checks

        sim.counter.reset()
        synced = run_cli_process(["sync", "--resource", "avaimet", "--full"], env, timeout_s=300)
        assert synced.returncode == 0, synced.stdout + synced.stderr

    expected = sim.items(ACCOUNT, "avaimet")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, kohde_id, tunniste, lukumaara FROM tampuuri.avaimet"
                " WHERE account = :a AND deleted_at IS NULL ORDER BY id"
            ),
            {"a": ACCOUNT},
        ).all()
        view = conn.execute(text("SELECT count(*) FROM bi.avaimet")).scalar_one()
    assert [tuple(r) for r in rows] == [
        (i["Id"], i["KohdeId"], i["Tunniste"], i["Lukumaara"]) for i in expected
    ]
    assert view == len(expected) > 0
    calls = {
        (r["method"], r["route"]): r["count"] for r in sim.transactions() if r["account"] == ACCOUNT
    }
    # One account-wide list of len(expected) rows: pages of 250 overlapping by one.
    pages = 1 if len(expected) <= 250 else 1 + -(-(len(expected) - 250) // 249)
    assert calls == {("GET", "avaimet/selaa"): pages}
