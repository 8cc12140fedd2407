"""Two simulator accounts synced into one warehouse, on the default and the frugal
profile, with the webhook sensor and the refresh job wired as Dagster runs them."""

from __future__ import annotations

from datetime import datetime

import dagster as dg
import httpx
import yaml
from sqlalchemy import text

from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sensors.webhook_inbox import OP_NAME, build_webhook_inbox_sensor, webhook_refresh_job
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.webhooks.inbox import store_bundle
from tests.budget.helpers import put_calls
from tests.refresh.conftest import FAST
from tests.sync.helpers import account_for

REALTIME, FRUGAL = "prof-a", "prof-b"
OVER = 2_001  # one call over the Standard package's 2,000, spent already: forecast over


class Deployment:
    """A simulator with two accounts, synced, on the default and the frugal profile."""

    def __init__(self, engine, warehouse_url: str) -> None:
        self.engine = engine
        self.warehouse_url = warehouse_url
        self.sim = Simulator(SimulatorConfig(seed=7, scale=10, accounts=(REALTIME, FRUGAL)))
        self.accounts = {}
        self.environ: dict[str, str] = {}
        # The default account may spend past its package (an overage ceiling): its
        # reconciliation is then stretched by its profile, not deferred by the guard.
        overage = {"ceiling": {"overage_calls": 50_000}}
        for name, extra in ((REALTIME, {"budget": overage}), (FRUGAL, {"profile": "frugal"})):
            account, environ = account_for(self.sim, name, **extra)
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

    def spend(self, account: str, calls: int, at: datetime) -> None:
        """`calls` recorded in the ledger for `account` at `at` (as if spent)."""
        with self.engine.begin() as conn:
            put_calls(conn, account, [(at, "GET", "ilmoitukset/{id}", 200, "webhook", calls)])

    def sensor(self) -> dg.SensorDefinition:
        return build_webhook_inbox_sensor(accounts=lambda: list(self.accounts.values()))

    def tick(self, sensor, instance, cursor=None):
        with dg.build_sensor_context(
            cursor=cursor,
            resources={"warehouse": WarehouseResource(database_url=self.warehouse_url)},
            instance=instance,
        ) as context:
            return sensor(context)

    def write_accounts(self, tmp_path, monkeypatch) -> str:
        """The accounts file a deployment reads (TAMPUURI_ACCOUNTS_FILE), with its secrets
        in the environment and the warehouse in TAMPUURI_DATABASE_URL."""
        path = tmp_path / "accounts.yaml"
        documents = [a.model_dump(mode="json") for a in self.accounts.values()]
        path.write_text(yaml.safe_dump({"accounts": documents}), encoding="utf-8")
        for variable, value in self.environ.items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(path))
        monkeypatch.setenv("TAMPUURI_DATABASE_URL", self.warehouse_url)
        return str(path)

    def execute(self, request, instance, tmp_path, monkeypatch):
        path = self.write_accounts(tmp_path, monkeypatch)
        return webhook_refresh_job.execute_in_process(
            run_config=request.run_config,
            tags=request.tags,
            resources={
                "warehouse": WarehouseResource(database_url=self.warehouse_url),
                "tampuuri": TampuuriResource(accounts_file=str(path), transport=self.transport),
            },
            instance=instance,
        )


def event_ids(request) -> list[int]:
    """The event ids a run request hands its run."""
    return request.run_config["ops"][OP_NAME]["config"]["event_ids"]
