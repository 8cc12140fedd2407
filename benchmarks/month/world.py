"""One strategy's world: a fresh simulator on a movable clock and a fresh warehouse.

Every strategy gets its own simulator (same seed, so the same portfolio and the same
changes) and its own scratch database, so calls and freshness never leak between them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import psycopg
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from pipelines.settings import AccountConfig
from pipelines.settings.profiles import PROBED_LISTS
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.warehouse.engine import make_engine, to_libpq_url
from pipelines.warehouse.migrations import upgrade

ACCOUNT = "ref"
SIM_BASE_URL = "http://sim/v10/api/"
# The simulator's generated data is "as of" 2025-06-30 12:00 UTC; the month starts after it.
MONTH_START = datetime(2025, 7, 1, tzinfo=UTC)


class SimClock:
    """Simulated time: the simulator stamps changes with it; the runner moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        # Time never runs backwards: a change stamped earlier than a refresh would look
        # older than the row the warehouse already holds.
        self.now = max(self.now, when)


@contextmanager
def scratch_database(server_url: str) -> Iterator[Engine]:
    """A migrated database created for one strategy and dropped afterwards."""
    name = f"bench_month_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name from code, not from input
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=4)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_simulator(seed: int, scale: int, clock: SimClock) -> Simulator:
    """The reference portfolio on `clock` (no faults: the benchmark counts calls)."""
    return Simulator(SimulatorConfig(seed=seed, scale=scale, accounts=(ACCOUNT,)), clock=clock)


def account_for(
    sim: Simulator,
    period_days: int = 0,
    list_rescan_days: int = 7,
    on_drift: str = "locate",
    cadence_days: int | None = None,
    window_s: float | None = None,
) -> tuple[AccountConfig, dict[str, str]]:
    """An AccountConfig for the simulator account and the environment holding its secrets.

    `period_days` (> 0) is the budget's `full_scan_period_days`: the reconciliation sweep
    re-scans every cost centre's objects within that many nights. `list_rescan_days` is
    its `list_rescan_period_days`, `on_drift` its `on_drift`. `cadence_days` and
    `window_s`, when given, override the profile's `reconcile_every_days` (every
    account-wide list) and `webhook_window_s` (`profile_overrides`).

    The secrets only live in this in-memory mapping handed to `run_sync(environ=...)`.
    """
    creds = sim.credentials(ACCOUNT)
    variables = {
        key: f"BENCH_MONTH_{key.upper()}"
        for key in ("api_key", "customer_name", "account_name", "username", "password")
    }
    environ = {variables[key]: getattr(creds, key) for key in variables}
    overrides: dict[str, object] = {}
    if cadence_days is not None:
        overrides["reconcile_every_days"] = dict.fromkeys(PROBED_LISTS, cadence_days)
    if window_s is not None:
        overrides["webhook_window_s"] = window_s
        overrides["adaptive"] = {"max_webhook_window_s": window_s}
    account = AccountConfig.model_validate(
        {
            "name": ACCOUNT,
            "base_url": SIM_BASE_URL,
            "credentials": variables,
            # A package the budget guard never binds on: the strategies are compared on
            # what they spend. (The guard reads the wall-clock billing cycle, which in
            # compressed time would see a week's calls in a few minutes and defer.)
            "package": "business",
            "budget": {
                "full_scan_period_days": max(1, period_days),
                "list_rescan_period_days": list_rescan_days,
                "on_drift": on_drift,
            },
            **({"profile_overrides": overrides} if overrides else {}),
        }
    )
    return account, environ


def transport(sim: Simulator) -> httpx.AsyncBaseTransport:
    """In-process HTTP to the simulator (every request is counted as a transaction)."""
    return httpx.ASGITransport(app=sim.app)
