"""One concurrency pool per account, with its limit from config/dagster.yaml: a sync of
an account whose pool `tampuuri-<account>` is full waits without calling the API, while
another account's sync goes through; freed, the waiting sync runs and gives its slot
back. Runs on a real Dagster instance (SQLite storage, as `make ui`), the simulator over
HTTP and a real PostgreSQL warehouse."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

from pipelines import definitions
from pipelines.assets.account_pool import pool_name
from pipelines.dagster_dev import LOCAL_INSTANCE
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.settings import PROJECT_ROOT
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.warehouse.engine import to_libpq_url
from pipelines.webhooks.coalesce import RefreshBatch
from tests.dagster.sim_accounts import ACCOUNTS, write_accounts

PRODUCTION = PROJECT_ROOT / "config" / "dagster.yaml"
WAIT_S = 120


def _pools_config() -> dict[str, Any]:
    """The `concurrency:` pools of the production instance (its run limits need a queue)."""
    concurrency = yaml.safe_load(PRODUCTION.read_text(encoding="utf-8"))["concurrency"]
    return {"pools": concurrency["pools"]}


def test_the_pool_limit_is_read_from_config(tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    (tmp_path / "dagster.yaml").write_text(PRODUCTION.read_text(encoding="utf-8"))
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["pools"] == {"granularity": "op", "default_limit": 2}
    # A dead worker's slots are given back after its run ended.
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] == 60
    # `make ui`'s local instance holds the same pools.
    local = yaml.safe_load(LOCAL_INSTANCE)
    assert local["concurrency"]["pools"] == _pools_config()["pools"]
    assert local["run_monitoring"]["free_slots_after_run_end_seconds"] == 60
    home = tmp_path / "local"
    home.mkdir()
    (home / "dagster.yaml").write_text(LOCAL_INSTANCE)
    with dg.DagsterInstance.from_config(str(home)) as instance:  # as `make ui` loads it
        assert instance.event_log_storage.get_pool_config().default_pool_limit == 2
        assert instance.event_log_storage.supports_global_concurrency_limits
        _assert_one_run_per_account(instance)
    with dg.instance_for_test(overrides={"concurrency": _pools_config()}) as instance:
        assert instance.event_log_storage.get_pool_config().default_pool_limit == 2


def _assert_one_run_per_account(instance: dg.DagsterInstance) -> None:
    """The run queue the daemon uses holds the per-account limits (from `concurrency: runs`)."""
    queue = instance.get_concurrency_config().run_queue_config
    assert queue is not None
    assert {(lim["key"], lim["limit"]) for lim in queue.tag_concurrency_limits} == {
        ("tampuuri/account", 1),
        ("dagster/partition", 1),
    }


def test_a_webhook_batch_names_the_accounts_whose_pools_it_holds() -> None:
    from pipelines.sensors.webhook_inbox import run_request_for

    batch = RefreshBatch(
        batch_key="k",
        event_ids=(1, 2),
        targets={
            ("demo-b", "kohteet", "refresh"): (5,),
            ("demo-a", "ilmoitukset", "refresh"): (7,),
        },
        cursor_event_id=2,
    )
    request = run_request_for(batch, "k")
    assert request.run_config["ops"]["webhook_refresh"]["config"]["accounts"] == [
        "demo-a",
        "demo-b",
    ]
    # Events that call nothing (types mapped to `ignore`) hold no account's pool.
    ignored = RefreshBatch(
        batch_key="i", event_ids=(3,), targets={}, cursor_event_id=3, ignored_event_ids=(3,)
    )
    assert (
        run_request_for(ignored, "i").run_config["ops"]["webhook_refresh"]["config"]["accounts"]
        == []
    )


@pytest.fixture
def simulator() -> Simulator:
    return Simulator(SimulatorConfig(seed=7, scale=60, accounts=ACCOUNTS))


@pytest.fixture
def location(
    simulator: Simulator, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dg.Definitions, dict[str, object]]:
    write_accounts(simulator, "http://sim/v10/api/", tmp_path, monkeypatch)
    resources = {
        "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
        "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=simulator.app)),
    }
    return definitions.defs(), resources


def _fill(instance: dg.DagsterInstance, pool: str) -> int:
    """Take every slot of the pool for another run; the limit."""
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(pool)
    limit = _pools_config()["pools"]["default_limit"]
    for slot in range(limit):
        assert storage.claim_concurrency_slot(pool, "another-run", f"step-{slot}").is_claimed
    return limit


def _free(instance: dg.DagsterInstance, limit: int) -> None:
    for slot in range(limit):
        instance.event_log_storage.free_concurrency_slot_for_step("another-run", f"step-{slot}")


def _start_waiting(instance: dg.DagsterInstance, pool: str, run) -> tuple[threading.Thread, list]:
    """Start `run` in a thread and return once it waits for a slot of the pool."""
    results: list = []
    waiting = threading.Thread(target=lambda: results.append(run()))
    waiting.start()
    deadline = time.monotonic() + WAIT_S
    while instance.event_log_storage.get_concurrency_info(pool).pending_step_count == 0:
        assert time.monotonic() < deadline, "the step never asked for a slot"
        time.sleep(0.1)
    time.sleep(1.0)
    assert waiting.is_alive()
    return waiting, results


def test_a_full_pool_holds_that_accounts_sync_only(location, simulator: Simulator) -> None:
    defs, resources = location
    held, free = ACCOUNTS
    with dg.instance_for_test(overrides={"concurrency": _pools_config()}) as instance:

        def sync(account: str) -> dg.ExecuteInProcessResult:
            return dg.materialize(
                list(defs.assets or []),
                selection="kustannuspaikat",
                partition_key=account,
                resources=resources,
                instance=instance,
            )

        pool = pool_name(held)
        limit = _fill(instance, pool)
        waiting, results = _start_waiting(instance, pool, lambda: sync(held))
        assert simulator.transactions(held) == []  # waiting: no call made

        other = sync(free)  # another account's pool has room
        assert other.success
        assert simulator.transactions(free)
        assert waiting.is_alive() and simulator.transactions(held) == []

        _free(instance, limit)
        waiting.join(WAIT_S)
        assert not waiting.is_alive()
        assert results[0].success
        assert simulator.transactions(held)
        info = instance.event_log_storage.get_concurrency_info(pool)
        assert (info.slot_count, info.active_slot_count, info.pending_step_count) == (limit, 0, 0)
        assert instance.event_log_storage.get_concurrency_info(pool_name(free)).slot_count == limit


def test_the_sweep_waits_for_its_accounts_pool(location, simulator: Simulator) -> None:
    defs, resources = location
    account = ACCOUNTS[0]
    with dg.instance_for_test(overrides={"concurrency": _pools_config()}) as instance:
        assert dg.materialize(
            list(defs.assets or []), partition_key=account, resources=resources, instance=instance
        ).success
        synced = simulator.counter.total(account)
        pool = pool_name(account)
        limit = _fill(instance, pool)
        sweep = defs.get_job_def("reconcile_sweep")
        waiting, results = _start_waiting(
            instance,
            pool,
            lambda: sweep.execute_in_process(
                run_config={"ops": {"reconcile": {"config": {"account": account}}}},
                resources=resources,
                instance=instance,
            ),
        )
        assert simulator.counter.total(account) == synced  # no call while waiting
        _free(instance, limit)
        waiting.join(WAIT_S)
        assert results[0].success
        assert simulator.counter.total(account) > synced


@pytest.fixture
def dagster_storage(pg_server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A PostgreSQL database for Dagster's own storage, named by the DAGSTER_PG_* variables
    the production dagster.yaml reads."""
    url = make_url(pg_server_url)
    if not url.host or url.port not in (None, 5432):
        pytest.skip("the production dagster.yaml connects to port 5432 by host name")
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(to_libpq_url(pg_server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    for variable, value in {
        "DAGSTER_PG_HOST": url.host,
        "DAGSTER_PG_DB": name,
        "DAGSTER_PG_USER": url.username or "postgres",
        "DAGSTER_PG_PASSWORD": url.password or "",
    }.items():
        monkeypatch.setenv(variable, value)
    yield
    with psycopg.connect(to_libpq_url(pg_server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def test_the_production_instance_stores_runs_and_pools_in_postgresql(
    dagster_storage: None, location, simulator: Simulator, tmp_path: Path
) -> None:
    defs, resources = location
    home = tmp_path / "production"
    home.mkdir()
    (home / "dagster.yaml").write_text(PRODUCTION.read_text(encoding="utf-8"))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            list(defs.assets or []),
            selection="kustannuspaikat",
            partition_key=ACCOUNTS[0],
            resources=resources,
            instance=instance,
        )
        assert result.success
        stored = instance.all_logs(result.run_id)
        assert any(e.dagster_event and e.dagster_event.is_step_success for e in stored)
        info = instance.event_log_storage.get_concurrency_info(pool_name(ACCOUNTS[0]))
        assert (info.slot_count, info.active_slot_count) == (2, 0)
        _assert_one_run_per_account(instance)
