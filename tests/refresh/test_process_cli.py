"""`tampuuri-sync webhooks process`: the inbox drained once without Dagster, over real HTTP.

The same code path as the sensor's job: due events are coalesced, refreshed with the
cheapest calls, and marked done; the command exits 0 and says what it did.
"""

from __future__ import annotations

import yaml
from sqlalchemy import text
from typer.testing import CliRunner

from pipelines.cli import _mount_optional_apps, app
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.webhooks.inbox import store_bundle
from tests.sync.helpers import account_for


def test_process_command_refreshes_and_marks_events_done(engine, warehouse_url, tmp_path):
    sim = Simulator(SimulatorConfig(seed=21, scale=300, accounts=("demo-a",)))
    with serve_in_thread(sim, host="127.0.0.1", port=0) as api:
        account, environ = account_for(sim, "demo-a", base_url=f"{api}/v10/api/")
        assert run_sync(engine, SyncRequest(account, full=True), environ=environ).ok
        notice = sim.items("demo-a", "ilmoitukset")[0]["Id"]
        notifications = sim.apply_change(
            "demo-a", "ilmoitukset", "update", id=notice, fields={"Tila": "Valmis"}
        ).notifications
        store_bundle(engine, {"Attempts": 1, "Notifications": notifications})
        accounts_file = tmp_path / "accounts.yaml"
        accounts_file.write_text(
            yaml.safe_dump({"accounts": [account.model_dump(mode="json")]}), encoding="utf-8"
        )
        before = sum(row["count"] for row in sim.transactions())
        _mount_optional_apps()
        result = CliRunner().invoke(
            app,
            ["webhooks", "process"],
            env={
                **environ,
                "TAMPUURI_ACCOUNTS_FILE": str(accounts_file),
                "TAMPUURI_DATABASE_URL": warehouse_url,
            },
        )
        spent = sum(row["count"] for row in sim.transactions()) - before
    assert result.exit_code == 0, result.output
    assert "1 done" in result.output and "1 calls" in result.output
    assert spent == 1  # one detail call for one notice
    with engine.connect() as conn:
        tila = conn.execute(
            text("SELECT tila FROM tampuuri.ilmoitukset WHERE account = 'demo-a' AND id = :id"),
            {"id": notice},
        ).scalar_one()
        statuses = conn.execute(text("SELECT DISTINCT status FROM ops.webhook_inbox")).scalars()
        assert list(statuses) == ["done"]
    assert tila == "Valmis"
