"""The webhook inbox sensor: one test per cursor case (no events; events inside the
coalescing window -> no run yet; events outside it -> one RunRequest keyed by the batch,
cursor advanced), and the job it launches refreshes exactly that batch.
"""

from __future__ import annotations

import dagster as dg
import yaml

from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sensors.webhook_inbox import (
    OP_NAME,
    build_webhook_inbox_sensor,
    webhook_refresh_job,
)
from pipelines.webhooks.dispatch import DispatchCursor

from .conftest import ACCOUNT, World

EMPTY = DispatchCursor().to_text()


def _evaluate(sensor, warehouse_url, cursor=None, instance=None):
    with dg.build_sensor_context(
        cursor=cursor,
        resources={"warehouse": WarehouseResource(database_url=warehouse_url)},
        instance=instance or dg.DagsterInstance.ephemeral(),
    ) as context:
        return sensor(context)


def _notice_event(world: World) -> list[dict]:
    notice = world.sim.items(ACCOUNT, "ilmoitukset")[0]["Id"]
    return world.change("ilmoitukset", "update", id=notice)


def test_no_events_no_run(engine, warehouse_url):
    result = _evaluate(build_webhook_inbox_sensor(window_s=5), warehouse_url)
    assert result.run_requests == [] and result.cursor == EMPTY
    assert "no due events" in result.skip_reason.skip_message


def test_events_inside_the_window_wait(world: World, warehouse_url):
    world.deliver(_notice_event(world))
    result = _evaluate(build_webhook_inbox_sensor(window_s=3600), warehouse_url, cursor="0")
    assert result.run_requests == [] and result.cursor == EMPTY
    assert "1 event(s) inside the window" in result.skip_reason.skip_message


def test_events_outside_the_window_make_one_run_and_the_job_refreshes_them(
    world: World, warehouse_url, tmp_path, monkeypatch
):
    world.deliver(_notice_event(world))
    sensor = build_webhook_inbox_sensor(window_s=0)
    result = _evaluate(sensor, warehouse_url, cursor="0")
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.run_key.startswith("webhooks-1-1-") and request.run_key.endswith("-d1")
    assert request.tags["tampuuri/webhook_batch"] == request.run_key
    assert DispatchCursor.from_text(result.cursor).held == {1}
    # The next tick: the event is held by a run not yet visible in Dagster: nothing new.
    again = _evaluate(sensor, warehouse_url, cursor=result.cursor)
    assert again.run_requests == [] and again.cursor == result.cursor
    # The run refreshes exactly that batch: one call, the event done with the run's id.
    run_config = request.run_config
    config = run_config.to_config_dict() if hasattr(run_config, "to_config_dict") else run_config
    assert config["ops"][OP_NAME]["config"]["event_ids"] == [1]
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        yaml.safe_dump({"accounts": [world.account.model_dump(mode="json")]}), encoding="utf-8"
    )
    for variable, value in world.environ.items():
        monkeypatch.setenv(variable, value)
    world.sim.counter.reset()
    outcome = webhook_refresh_job.execute_in_process(
        run_config=run_config,
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url),
            "tampuuri": TampuuriResource(accounts_file=str(accounts), transport=world.transport),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert outcome.success
    assert outcome.output_for_node(OP_NAME) == 1
    assert world.calls() == 1
    assert world.scalar("SELECT status || ':' || run_id FROM ops.webhook_inbox") == (
        f"done:{outcome.run_id}"
    )
