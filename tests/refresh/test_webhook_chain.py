"""The whole webhook path in one chain: simulator changes -> the simulator's webhook sender
-> the receiver (secret header) -> ops.webhook_inbox -> the Dagster sensor
(`build_sensor_context`) -> `webhook_refresh_job` -> the warehouse equals the simulator,
and the refresh spent 2 calls on 8 events.
"""

from __future__ import annotations

import asyncio

import dagster as dg
import httpx
import yaml
from pydantic import SecretStr

from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sensors.webhook_inbox import build_webhook_inbox_sensor, webhook_refresh_job
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.webhooks.receiver import create_receiver_app
from pipelines.webhooks.settings import ReceiverSettings
from tests.sync.helpers import account_for, assert_parity

SECRET = "chain-secret-1"
PATH = "/tampuuri/webhook"


def test_sender_receiver_inbox_sensor_job_warehouse(engine, warehouse_url, tmp_path, monkeypatch):
    settings = ReceiverSettings(path=PATH, secrets=[SecretStr(SECRET)])
    receiver = httpx.ASGITransport(app=create_receiver_app(engine, settings))
    sim = Simulator(
        SimulatorConfig(seed=17, scale=300, accounts=("demo-a",)), webhook_transport=receiver
    )
    account, environ = account_for(sim, "demo-a")
    api = httpx.ASGITransport(app=sim.app)
    assert run_sync(engine, SyncRequest(account, full=True), transport=api, environ=environ).ok

    async def admin(path: str, body: dict | None = None) -> dict:
        async with httpx.AsyncClient(transport=api, base_url="http://sim") as client:
            response = await client.post(path, json=body)
            assert response.is_success, response.text
            return response.json()

    listener = {
        "account": "demo-a",
        "url": f"http://receiver{PATH}",
        "events": None,
        "secret_header": {"name": "X-Webhook-Secret", "value": SECRET},
    }
    asyncio.run(admin("/_sim/webhooks/listeners", listener))

    # Changes that Tampuuri announces by webhook (deleted links have no event: the
    # reconciliation sweep covers those, tested in test_reconcile.py).
    notices = [n["Id"] for n in sim.items("demo-a", "ilmoitukset")[:6]]
    apartment = next(o for o in sim.items("demo-a", "kohteet") if o["Metaname"] == "huoneisto")
    for notice in notices:
        sim.apply_change("demo-a", "ilmoitukset", "update", id=notice, fields={"Tila": "Tehty"})
    sim.apply_change("demo-a", "ilmoitukset", "insert", fields={})
    sim.apply_change("demo-a", "kohteet", "update", id=apartment["Id"], fields={"Nimi": "Uusi"})
    # (A party change is refreshed by the batch route, test_refresh_targets.py; the copy of
    # the party nested in each link item is refreshed by the next link scan.)

    deliveries = asyncio.run(admin("/_sim/webhooks/flush"))["deliveries"]
    assert [entry["outcome"] for entry in deliveries] == ["delivered"]
    with engine.connect() as conn:
        events = conn.exec_driver_sql("SELECT count(*) FROM ops.webhook_inbox").scalar_one()
    assert events == 8

    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        yaml.safe_dump({"accounts": [account.model_dump(mode="json")]}), encoding="utf-8"
    )
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    sim.counter.reset()
    sensor = build_webhook_inbox_sensor(window_s=0)
    with dg.build_sensor_context(
        cursor="0", resources={"warehouse": WarehouseResource(database_url=warehouse_url)}
    ) as context:
        tick = sensor(context)
    assert len(tick.run_requests) == 1  # one coalesced batch, one run
    outcome = webhook_refresh_job.execute_in_process(
        run_config=tick.run_requests[0].run_config,
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url),
            "tampuuri": TampuuriResource(accounts_file=str(accounts), transport=api),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert outcome.success
    assert_parity(engine, sim, "demo-a")
    calls = sum(row["count"] for row in sim.transactions("demo-a"))
    # 7 notice events: one change-since list call; the object: one detail call.
    assert calls == 2
    with engine.connect() as conn:
        statuses = conn.exec_driver_sql("SELECT DISTINCT status FROM ops.webhook_inbox").all()
    assert [s for (s,) in statuses] == ["done"]
