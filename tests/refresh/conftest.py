"""Shared set-up of the refresh tests: a simulator, a fully synced warehouse, event injection."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, event, text

from pipelines.settings import load_sync_settings
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.webhooks.inbox import store_bundle
from pipelines.webhooks.process import process_inbox_once
from tests.sync.helpers import account_for

ACCOUNT = "demo-a"
FAST = dataclasses.replace(
    load_sync_settings(), backoff_initial_s=0.001, backoff_max_s=0.01, max_attempts=3
)


class Clock:
    """A movable simulator clock (Muokattu of changes, webhook timestamps)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass
class World:
    sim: Simulator
    engine: object
    account: object
    environ: dict
    clock: Clock

    @property
    def transport(self) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=self.sim.app)

    def calls(self) -> int:
        return self.sim.counter.total(ACCOUNT)

    def calls_by_route(self) -> dict[tuple[str, str, int], int]:
        out: dict[tuple[str, str, int], int] = {}
        for row in self.sim.transactions(ACCOUNT):
            key = (row["method"], row["route"], row["status"])
            out[key] = out.get(key, 0) + row["count"]
        return out

    def change(self, resource: str, op: str, **kwargs) -> list[dict]:
        """Apply a simulator change; returns its webhook notifications (not yet delivered)."""
        return self.sim.apply_change(ACCOUNT, resource, op, **kwargs).notifications

    def deliver(self, notifications: list[dict], attempts: int = 1) -> None:
        store_bundle(self.engine, {"Attempts": attempts, "Notifications": notifications})

    def process(self, **kwargs):
        kwargs.setdefault("now", datetime.now(UTC) + timedelta(seconds=1))
        kwargs.setdefault("window_s", 0.0)
        kwargs.setdefault("max_batch", 500)
        return process_inbox_once(
            self.engine,
            accounts=[self.account],
            transport=self.transport,
            environ=self.environ,
            settings=FAST,
            **kwargs,
        )

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar_one()


def make_world(engine, scale: int = 300, **extra: object) -> World:
    """A simulator account fully synced into the warehouse, its call counters zeroed
    (`extra`: AccountConfig keys, e.g. `resources=[...]` to opt in)."""
    clock = Clock()
    sim = Simulator(SimulatorConfig(seed=7, scale=scale, accounts=(ACCOUNT,)), clock=clock)
    account, environ = account_for(sim, ACCOUNT, **extra)
    report = run_sync(
        engine,
        SyncRequest(account, full=True),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST,
    )
    assert report.ok
    sim.counter.reset()
    return World(sim, engine, account, environ, clock)


@pytest.fixture
def world(engine) -> World:
    return make_world(engine)


def statements_on_the_loop(engine: Engine) -> list[str]:
    """From now on, the SQL statements `engine` executes on a thread that is running an
    event loop (a blocking call on the loop); worker threads are not recorded."""
    blocked: list[str] = []

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread: no loop here
        blocked.append(" ".join(statement.split())[:80])

    event.listen(engine, "before_cursor_execute", before_execute)
    return blocked
