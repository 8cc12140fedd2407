"""Dagster-side settings: schedules, run timeout, freshness bound and the webhook sensor.

They live in `config/schedules.yaml` (section `dagster:`); unknown keys are an error naming
the key, as in `pipelines.settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from pipelines.settings import CONFIG_DIR, ConfigError, read_yaml

SCHEDULES_FILE = CONFIG_DIR / "schedules.yaml"


@dataclass(frozen=True)
class DagsterSettings:
    """How and when Dagster runs the syncs."""

    nightly_cron: str = "0 2 * * *"
    reconcile_cron: str = "30 4 * * *"
    timezone: str = "Europe/Helsinki"
    max_runtime_s: int = 4 * 3600
    freshness_hours: float = 26.0
    # The webhook inbox sensor: how often it looks (Dagster's daemon loops every 5 s, so
    # 1 means every loop) and how old an event must be before it is refreshed. The frugal
    # profile batches about hourly: interval 3540, window 60.
    webhook_interval_s: int = 1
    webhook_window_s: float = 0.0


def load_dagster_settings(path: Path | None = None) -> DagsterSettings:
    """Read the `dagster:` section of config/schedules.yaml (defaults when absent).

    Raises:
        ConfigError: the file is malformed or names an unknown setting.
    """
    source = path or SCHEDULES_FILE
    if not source.exists():
        return DagsterSettings()
    raw = read_yaml(source) or {}
    section = raw.get("dagster", {}) if isinstance(raw, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: dagster: must be a mapping")
    known = {f.name: f for f in fields(DagsterSettings)}
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise ConfigError(f"{source}: dagster.{unknown[0]}: unknown setting")
    try:
        values = {k: type(getattr(DagsterSettings, k))(v) for k, v in section.items()}
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: dagster: {exc}") from None
    return DagsterSettings(**values)
