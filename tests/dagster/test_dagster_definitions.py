"""The code location's shape: the definitions load and name exactly the expected assets,
checks, jobs, schedules and sensors; partitions follow the configured accounts (or the
`unconfigured` placeholder, whose runs fail with the configuration error); the nightly
schedule asks for one run per account, tagged for the per-account run queue; the
production dagster.yaml is a valid instance config."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines import definitions
from pipelines.assets.partitions import UNCONFIGURED
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.settings import PROJECT_ROOT

SYNC_ASSETS = {"kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset"}
ASSETS = {*SYNC_ASSETS, "call_budget"}
CHECK_NAMES = {
    "row_count_matches_api_total",
    "no_duplicate_ids",
    "fresh",
    "no_new_fields",
    "routes_readable",
    "calls_as_planned",
}
JOBS = {"nightly_sync", "webhook_refresh_job", "reconcile_sweep"}
SCHEDULES = {"nightly_sync_schedule", "reconcile_sweep_schedule"}
SENSORS = {"webhook_inbox_sensor"}
DEPS = {
    "kustannuspaikat": set(),
    "kohteet": {"kustannuspaikat"},
    "osapuolet": {"kohteet"},
    "ilmoitukset": {"kustannuspaikat"},
    "call_budget": SYNC_ASSETS,
}


def _accounts_file(tmp_path: Path, names: tuple[str, ...], webhooks: tuple[str, ...] = ()) -> Path:
    accounts = [
        {
            "name": name,
            "base_url": "http://sim/v10/api/",
            "credentials": {
                k: f"UNSET_{k.upper()}"
                for k in ("api_key", "customer_name", "account_name", "username", "password")
            },
            "webhooks": name in webhooks,
        }
        for name in names
    ]
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": accounts}), encoding="utf-8")
    return path


@pytest.fixture
def two_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(_accounts_file(tmp_path, ("acc-a", "acc-b"))))
    return definitions.defs()


@pytest.fixture
def unconfigured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(tmp_path / "missing.yaml"))
    return definitions.defs()


def test_definitions_name_the_expected_objects(two_accounts: dg.Definitions) -> None:
    repo = two_accounts.get_repository_def()
    graph = repo.asset_graph
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSETS
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {(a, c) for a in SYNC_ASSETS for c in CHECK_NAMES} | {
        ("call_budget", "within_package")
    }
    assert {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")} == JOBS
    assert {s.name for s in repo.schedule_defs} == SCHEDULES
    assert {s.name for s in repo.sensor_defs} == SENSORS
    for asset, upstream in DEPS.items():
        node = graph.get(dg.AssetKey(asset))
        assert {k.to_user_string() for k in node.parent_keys} == upstream
        assert node.group_name == ("budget" if asset == "call_budget" else "tampuuri")
        assert node.partitions_def.get_partition_keys() == ["acc-a", "acc-b"]


def test_nightly_job_runs_every_asset_and_check(two_accounts: dg.Definitions) -> None:
    job = two_accounts.get_repository_def().get_job("nightly_sync")
    layer = job.asset_layer
    assert {k.to_user_string() for k in layer.selected_asset_keys} == ASSETS
    assert len(layer.asset_graph.asset_check_keys) == len(SYNC_ASSETS) * len(CHECK_NAMES) + 1
    assert job.tags["dagster/max_runtime"] == "14400"


def test_schedule_yields_one_run_request_per_account(two_accounts: dg.Definitions) -> None:
    schedule = two_accounts.get_repository_def().get_schedule_def("nightly_sync_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Europe/Helsinki"
    tick = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=two_accounts.get_repository_def()
    )
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["acc-a", "acc-b"]
    assert [r.tags["tampuuri/account"] for r in requests] == ["acc-a", "acc-b"]
    assert {r.tags["tampuuri/trigger"] for r in requests} == {"nightly"}
    assert len({r.run_key for r in requests}) == 2


def test_accounts_with_webhooks_are_left_to_the_sweep_at_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = _accounts_file(tmp_path, ("acc-a", "acc-b"), webhooks=("acc-b",))
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(accounts))
    repo = definitions.defs().get_repository_def()
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 2, tzinfo=UTC), repository_def=repo
    )
    nightly = repo.get_schedule_def("nightly_sync_schedule").evaluate_tick(context)
    assert [r.partition_key for r in nightly.run_requests or []] == ["acc-a"]
    sweep = repo.get_schedule_def("reconcile_sweep_schedule").evaluate_tick(context)
    assert len(sweep.run_requests or []) == 2

    everyone = _accounts_file(tmp_path, ("acc-a", "acc-b"), webhooks=("acc-a", "acc-b"))
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(everyone))
    repo = definitions.defs().get_repository_def()
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 2, tzinfo=UTC), repository_def=repo
    )
    result = repo.get_schedule_def("nightly_sync_schedule").evaluate_tick(context)
    assert not result.run_requests
    assert "webhooks" in (result.skip_message or "")


def test_reconcile_schedule_yields_one_sweep_per_account(two_accounts: dg.Definitions) -> None:
    repo = two_accounts.get_repository_def()
    schedule = repo.get_schedule_def("reconcile_sweep_schedule")
    assert schedule.execution_timezone == "Europe/Helsinki"
    tick = datetime(2026, 3, 2, 2, 30, tzinfo=UTC)
    context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repo)
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.run_config["ops"]["reconcile"]["config"]["account"] for r in requests] == [
        "acc-a",
        "acc-b",
    ]
    assert {r.tags["tampuuri/trigger"] for r in requests} == {"reconcile"}


def test_unconfigured_loads_with_a_placeholder_partition(unconfigured: dg.Definitions) -> None:
    repo = unconfigured.get_repository_def()
    node = repo.asset_graph.get(dg.AssetKey("kustannuspaikat"))
    assert node.partitions_def.get_partition_keys() == [UNCONFIGURED]
    schedule = repo.get_schedule_def("nightly_sync_schedule")
    result = schedule.evaluate_tick(dg.build_schedule_context(repository_def=repo))
    assert not result.run_requests
    assert "missing.yaml" in (result.skip_message or "")


def test_unconfigured_run_fails_with_the_config_error(
    unconfigured: dg.Definitions, warehouse_url: str
) -> None:
    result = dg.materialize(
        list(unconfigured.assets or []),
        selection="kustannuspaikat",
        partition_key=UNCONFIGURED,
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url),
            "tampuuri": TampuuriResource(),
        },
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert len(failures) == 1
    assert "missing.yaml" in failures[0].step_failure_data.user_failure_data.description


def test_production_instance_config_is_valid(tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    (tmp_path / "dagster.yaml").write_text(
        (PROJECT_ROOT / "config" / "dagster.yaml").read_text(encoding="utf-8")
    )
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {(lim["key"], lim["limit"]) for lim in limits} == {
        ("tampuuri/account", 1),
        ("dagster/partition", 1),
    }
    assert config["run_monitoring"]["enabled"] is True
    assert "postgres" in config["storage"]


def test_the_webhook_sensor_follows_config_schedules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped sensor looks every daemon loop; the frugal profile's hourly batches
    are a config edit."""
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(_accounts_file(tmp_path, ("acc-a",))))
    shipped = definitions.defs().get_sensor_def("webhook_inbox_sensor")
    assert shipped.minimum_interval_seconds == 1
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(
        "dagster:\n  webhook_interval_s: 3540\n  webhook_window_s: 60\n", encoding="utf-8"
    )
    monkeypatch.setattr("pipelines.assets.settings.SCHEDULES_FILE", schedules)
    frugal = definitions.defs().get_sensor_def("webhook_inbox_sensor")
    assert frugal.minimum_interval_seconds == 3540
