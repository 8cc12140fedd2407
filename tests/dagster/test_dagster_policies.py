"""What the code location takes from config without a code change: each sync asset's
freshness policy from its freshness target in schedules.yaml (per resource overrides
included, the `fresh` check using the same target), and the account partitions, the
nightly requests and the sweep's requests from the accounts file as it is when the
location loads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines import definitions
from pipelines.assets import settings as dagster_settings
from pipelines.settings import ConfigError

SYNC_ASSETS = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")


def _accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: list[str]) -> None:
    accounts = [
        {
            "name": name,
            "base_url": "http://sim/v10/api/",
            "credentials": {
                k: f"UNSET_{k.upper()}"
                for k in ("api_key", "customer_name", "account_name", "username", "password")
            },
        }
        for name in names
    ]
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": accounts}), encoding="utf-8")
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(path))


def _schedules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: dict) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(yaml.safe_dump({"dagster": section}), encoding="utf-8")
    monkeypatch.setattr(dagster_settings, "SCHEDULES_FILE", path)


def test_each_asset_carries_its_freshness_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _accounts(tmp_path, monkeypatch, ["acc-a"])
    _schedules(
        tmp_path,
        monkeypatch,
        {"freshness_hours": 30, "freshness_hours_by_resource": {"ilmoitukset": 2}},
    )
    graph = definitions.defs().get_repository_def().asset_graph
    windows = {
        asset: graph.get(dg.AssetKey(asset)).freshness_policy.fail_window.to_timedelta()
        for asset in SYNC_ASSETS
    }
    assert windows == {
        "kustannuspaikat": timedelta(hours=30),
        "kohteet": timedelta(hours=30),
        "osapuolet": timedelta(hours=30),
        "ilmoitukset": timedelta(hours=2),
    }
    assert graph.get(dg.AssetKey("call_budget")).freshness_policy is None


def test_the_default_target_is_the_fresh_checks_26_hours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _accounts(tmp_path, monkeypatch, ["acc-a"])
    graph = definitions.defs().get_repository_def().asset_graph
    for asset in SYNC_ASSETS:
        policy = graph.get(dg.AssetKey(asset)).freshness_policy
        assert policy.fail_window.to_timedelta() == timedelta(hours=26)


def test_an_unknown_resource_or_a_window_under_a_minute_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _schedules(tmp_path, monkeypatch, {"freshness_hours_by_resource": {"vuokrat": 2}})
    with pytest.raises(ConfigError, match="'vuokrat' is not a synced resource"):
        dagster_settings.load_dagster_settings()
    _schedules(tmp_path, monkeypatch, {"freshness_hours": 0.001})
    with pytest.raises(ConfigError, match="freshness_hours"):
        dagster_settings.load_dagster_settings()


def test_an_account_added_to_the_file_appears_at_the_next_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tick = datetime(2026, 3, 2, tzinfo=UTC)
    seen = []
    for names in (["acc-a"], ["acc-a", "acc-b", "acc-c"]):
        _accounts(tmp_path, monkeypatch, names)
        repo = definitions.defs().get_repository_def()
        node = repo.asset_graph.get(dg.AssetKey("kohteet"))
        context = dg.build_schedule_context(scheduled_execution_time=tick, repository_def=repo)
        nightly = repo.get_schedule_def("nightly_sync_schedule").evaluate_tick(context)
        sweep = repo.get_schedule_def("reconcile_sweep_schedule").evaluate_tick(context)
        seen.append(
            (
                node.partitions_def.get_partition_keys(),
                [r.partition_key for r in nightly.run_requests or []],
                [r.tags["tampuuri/account"] for r in sweep.run_requests or []],
            )
        )
    assert seen == [
        (["acc-a"], ["acc-a"], ["acc-a"]),
        (["acc-a", "acc-b", "acc-c"], ["acc-a", "acc-b", "acc-c"], ["acc-a", "acc-b", "acc-c"]),
    ]
