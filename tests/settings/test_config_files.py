"""packages.yaml, routes.yaml, events.yaml and schedules.yaml follow the same rules as
sync.yaml and accounts.yaml: strict types, bounded numbers, no unknown keys, and an
error that names the file and the key path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipelines.assets.settings import DagsterSettings, load_dagster_settings
from pipelines.budget.packages import load_packages
from pipelines.settings import ConfigError, config_file, read_environment
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.webhooks.events import load_event_mapping
from tests.settings.helpers import config_copy, shipped, write_yaml

LOADERS: dict[str, Callable[[Path], Any]] = {
    "packages.yaml": load_packages,
    "routes.yaml": load_catalogue,
    "events.yaml": load_event_mapping,
    "schedules.yaml": load_dagster_settings,
}


def _changed(name: str, path: str, value: Any) -> dict[str, Any]:
    document = shipped(name)
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node[part]
    node[last] = value
    return document


@pytest.mark.parametrize(
    ("name", "key", "value", "problem"),
    [
        ("packages.yaml", "packages.normal.included_calls", 40000.5, "must be an integer, got"),
        ("packages.yaml", "packages.normal.included_calls", -1, "must be at least 0, got -1"),
        ("packages.yaml", "packages.normal.monthly_fee_eur", True, "must be a number of euros"),
        ("packages.yaml", "packages.normal.overage_eur_per_call", -0.02, "must be at least 0"),
        ("packages.yaml", "packages.normal.price", 1, "unknown key"),
        ("routes.yaml", "max_page_size", 2.5, "must be an integer, got 2.5"),
        (
            "events.yaml",
            "events.DokumenttipankkiDokumenttiUusi.action",
            "fetch",
            "'fetch' is not one of refresh",
        ),
        ("events.yaml", "events.DokumenttipankkiDokumenttiUusi.resorce", "kohteet", "unknown key"),
        ("schedules.yaml", "dagster.max_runtime_s", 0, "must be greater than 0, got 0"),
        ("schedules.yaml", "dagster.freshness_hours", "26h", "must be a number, got '26h'"),
        ("schedules.yaml", "dagster.webhook_interval_s", 1.5, "must be an integer, got 1.5"),
        ("schedules.yaml", "dagster.webhook_window_s", -1, "must be at least 0, got -1"),
        ("schedules.yaml", "dagster.nightly_cron", "at two", "is not a cron expression"),
        ("schedules.yaml", "dagster.timezone", "Helsinki", "'Helsinki' is not a time zone"),
        ("schedules.yaml", "dagster.nightly_crn", "0 2 * * *", "unknown key"),
    ],
)
def test_a_bad_value_names_the_file_and_key_path(
    tmp_path: Path, name: str, key: str, value: Any, problem: str
) -> None:
    path = write_yaml(tmp_path / name, _changed(name, key, value))
    with pytest.raises(ConfigError) as caught:
        LOADERS[name](path)
    assert str(caught.value).startswith(f"{path}: {key}: "), caught.value
    assert problem in str(caught.value)


def test_the_config_folder_can_be_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TAMPUURI_CONFIG_DIR: every file not given explicitly is read from there."""
    folder = config_copy(tmp_path / "config", "schedules.yaml", {"dagster": {"max_runtime_s": 60}})
    monkeypatch.setenv("TAMPUURI_CONFIG_DIR", str(folder))
    assert config_file("sync.yaml") == folder / "sync.yaml"
    assert load_dagster_settings().max_runtime_s == 60
    write_yaml(folder / "packages.yaml", {"packages": {"gold": {"included_calls": 1}}})
    with pytest.raises(ConfigError, match=r"packages\.gold\.monthly_fee_eur: is required"):
        load_packages()
    monkeypatch.delenv("TAMPUURI_CONFIG_DIR")
    assert load_dagster_settings() == DagsterSettings(**shipped("schedules.yaml")["dagster"])


def test_the_environment_read_is_the_mapping_given_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A caller's `environ` is all that is read: not the process's variables, not a .env."""
    monkeypatch.setenv("TAMPUURI_CONFIG_DIR", str(tmp_path / "from-the-process"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TAMPUURI_PACKAGE=standard\n", encoding="utf-8")
    given = read_environment({"TAMPUURI_BASE_URL": "https://api.example/v10/api/"})
    assert given.config_dir is None
    assert given.package is None
    assert given.base_url == "https://api.example/v10/api/"
    assert read_environment().config_dir == tmp_path / "from-the-process"  # the process's
