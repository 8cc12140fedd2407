"""Two accounts on different profiles in one deployment: the webhook sensor (through
Dagster's `build_sensor_context`, against the simulator and a real warehouse) dispatches
the default account's events at once and holds the frugal account's until its own window
has passed; the dispatched run refreshes exactly its events over HTTP.
"""

from __future__ import annotations

import dagster as dg
import httpx
import pytest
import yaml
from sqlalchemy import text

from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sensors.webhook_inbox import OP_NAME, build_webhook_inbox_sensor, webhook_refresh_job
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.webhooks.dispatch import DispatchCursor
from pipelines.webhooks.inbox import store_bundle
from tests.refresh.conftest import FAST
from tests.sync.helpers import account_for

REALTIME, FRUGAL = "prof-a", "prof-b"


class Deployment:
    """A simulator with two accounts, synced, on the default and the frugal profile."""

    def __init__(self, engine, warehouse_url: str) -> None:
        self.engine = engine
        self.warehouse_url = warehouse_url
        self.sim = Simulator(SimulatorConfig(seed=7, scale=10, accounts=(REALTIME, FRUGAL)))
        self.accounts = {}
        self.environ: dict[str, str] = {}
        for name, profile in ((REALTIME, "default"), (FRUGAL, "frugal")):
            account, environ = account_for(self.sim, name, profile=profile)
            self.accounts[name] = account
            self.environ.update(environ)
            report = run_sync(
                engine,
                SyncRequest(account, full=True),
                transport=self.transport,
                environ=environ,
                settings=FAST,
            )
            assert report.ok
        self.sim.counter.reset()

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.sim.app)

    def notice_changed(self, account: str) -> list[int]:
        """A notice of `account` edited in Tampuuri and its webhook received: the event ids."""
        notice = self.sim.items(account, "ilmoitukset")[0]["Id"]
        change = self.sim.apply_change(account, "ilmoitukset", "update", id=notice)
        store_bundle(self.engine, {"Attempts": 1, "Notifications": change.notifications})
        return self.event_ids(account)

    def event_ids(self, account: str, status: str = "pending") -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT event_id FROM ops.webhook_inbox WHERE account = :a AND status = :s"
                    " ORDER BY event_id"
                ),
                {"a": account, "s": status},
            ).scalars()
            return list(rows)

    def age_events(self, account: str, seconds: int) -> None:
        """Let `seconds` pass for the account's waiting events (received that much earlier)."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE ops.webhook_inbox SET received_at = received_at - make_interval("
                    "secs => :s) WHERE account = :a"
                ),
                {"a": account, "s": seconds},
            )

    def sensor(self) -> dg.SensorDefinition:
        return build_webhook_inbox_sensor(accounts=lambda: list(self.accounts.values()))

    def tick(self, sensor, instance, cursor=None):
        with dg.build_sensor_context(
            cursor=cursor,
            resources={"warehouse": WarehouseResource(database_url=self.warehouse_url)},
            instance=instance,
        ) as context:
            return sensor(context)

    def execute(self, request, instance, tmp_path, monkeypatch):
        path = tmp_path / "accounts.yaml"
        documents = [a.model_dump(mode="json") for a in self.accounts.values()]
        path.write_text(yaml.safe_dump({"accounts": documents}), encoding="utf-8")
        for variable, value in self.environ.items():
            monkeypatch.setenv(variable, value)
        return webhook_refresh_job.execute_in_process(
            run_config=request.run_config,
            tags=request.tags,
            resources={
                "warehouse": WarehouseResource(database_url=self.warehouse_url),
                "tampuuri": TampuuriResource(accounts_file=str(path), transport=self.transport),
            },
            instance=instance,
        )


@pytest.fixture
def deployment(engine, warehouse_url) -> Deployment:
    return Deployment(engine, warehouse_url)


def event_ids(request) -> list[int]:
    return request.run_config["ops"][OP_NAME]["config"]["event_ids"]


def test_each_account_is_batched_on_its_own_window(deployment: Deployment, tmp_path, monkeypatch):
    assert deployment.accounts[REALTIME].effective_profile.webhook_window_s == 0
    assert deployment.accounts[FRUGAL].effective_profile.webhook_window_s == 3600
    fast = deployment.notice_changed(REALTIME)
    slow = deployment.notice_changed(FRUGAL)
    assert (fast, slow) == ([1], [2])
    instance = dg.DagsterInstance.ephemeral()
    sensor = deployment.sensor()

    first = deployment.tick(sensor, instance)
    [request] = first.run_requests
    assert event_ids(request) == fast  # the default account's event at once, alone
    assert DispatchCursor.from_text(first.cursor).held == {1}

    # The frugal account's event waits for its hour; the next tick launches nothing.
    second = deployment.tick(sensor, instance, first.cursor)
    assert second.run_requests == []
    assert second.skip_reason.skip_message.startswith(
        f"{FRUGAL}: 1 event(s) held for its 3,600 s window (due in 3,"
    )

    # The run refreshes exactly the default account's event: one call, over HTTP.
    assert deployment.execute(request, instance, tmp_path, monkeypatch).success
    assert deployment.event_ids(REALTIME, "done") == fast
    assert deployment.event_ids(FRUGAL) == slow
    assert deployment.sim.counter.total(REALTIME) == 1
    assert deployment.sim.counter.total(FRUGAL) == 0

    # 59 minutes on, still held; past the hour, dispatched alone.
    deployment.age_events(FRUGAL, 59 * 60)
    third = deployment.tick(sensor, instance, second.cursor)
    assert third.run_requests == []
    deployment.age_events(FRUGAL, 61)
    fourth = deployment.tick(sensor, instance, third.cursor)
    [late] = fourth.run_requests
    assert event_ids(late) == slow
    assert late.run_key.startswith("webhooks-2-2-") and late.run_key.endswith("-d2")
    assert deployment.execute(late, instance, tmp_path, monkeypatch).success
    assert deployment.event_ids(FRUGAL, "done") == slow
    assert deployment.sim.counter.total(FRUGAL) == 1


def test_events_arriving_inside_an_open_window_join_its_batch(deployment: Deployment):
    instance = dg.DagsterInstance.ephemeral()
    sensor = deployment.sensor()
    first = deployment.notice_changed(FRUGAL)
    deployment.age_events(FRUGAL, 30 * 60)
    both = deployment.notice_changed(FRUGAL)  # a second change half an hour later
    assert both == [*first, first[0] + 1]
    held = deployment.tick(sensor, instance)
    assert held.run_requests == []
    assert "2 event(s) held for its 3,600 s window (due in 1,8" in held.skip_reason.skip_message
    deployment.age_events(FRUGAL, 30 * 60)  # the first is an hour old, the second half
    [request] = deployment.tick(sensor, instance, held.cursor).run_requests
    assert event_ids(request) == both  # one batch, one window's worth
