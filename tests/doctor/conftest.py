"""Doctor fixtures: a simulator over HTTP, a synced warehouse with confirmed deletions."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pipelines.settings import CONFIG_DIR, load_sync_settings
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.sync.engine import SyncRequest, run_sync
from tests.sync.helpers import account_for

FAST = dataclasses.replace(
    load_sync_settings(), backoff_initial_s=0.001, backoff_max_s=0.01, max_attempts=3
)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=7, scale=900))


@pytest.fixture
def base_url(sim: Simulator) -> Iterator[str]:
    with serve_in_thread(sim) as url:
        yield url + "/v10/api/"


@pytest.fixture
def account(sim: Simulator, base_url: str):
    return account_for(sim, "demo-a", base_url=base_url)


@pytest.fixture
def routes_file(tmp_path: Path) -> Path:
    """A copy of config/routes.yaml: the doctor writes its overrides beside it."""
    target = tmp_path / "routes.yaml"
    shutil.copy(CONFIG_DIR / "routes.yaml", target)
    return target


def _leaf_object(sim: Simulator) -> int:
    objects = sim.items("demo-a", "kohteet")
    parents = {o["ParentId"] for o in objects}
    return next(o["Id"] for o in objects if o["Id"] not in parents)


@pytest.fixture
def synced(engine: Engine, sim: Simulator, account) -> dict[str, int]:
    """A full sync, one object and one notice deleted, a full sync confirming both (404);
    the simulator's call counter then starts from 0."""
    config, environ = account
    for step in range(2):
        report = run_sync(engine, SyncRequest(config, full=True), environ=environ, settings=FAST)
        assert report.ok, [r.error for r in report.resources]
        if step == 0:
            deleted = {
                "kohteet": _leaf_object(sim),
                "ilmoitukset": sim.items("demo-a", "ilmoitukset")[0]["Id"],
            }
            for resource, row_id in deleted.items():
                sim.apply_change("demo-a", resource, "delete", id=row_id)
    sim.counter.reset()
    return deleted
