"""Dagster-side settings: schedules, run timeout, freshness targets and the webhook sensor.

They live in `config/schedules.yaml` (section `dagster:`), validated as strictly as
`pipelines.settings`: a wrong type, an out-of-range number or an unknown key is a
ConfigError naming the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict
from pydantic.dataclasses import dataclass

from pipelines.settings import config_file, read_yaml, validate_document
from pipelines.settings.errors import shown
from pipelines.settings.values import (
    NonNegativeFloat,
    PositiveInt,
    StrictStr,
    TimeZoneName,
)
from pipelines.sync.scans import ASSET_RESOURCES

# Where the file is when none is given; None: schedules.yaml in the config folder.
SCHEDULES_FILE: Path | None = None
_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)


def _cron(value: str) -> str:
    if len(value.split()) != 5:
        raise ValueError(f"{shown(value, 'cron')} is not a cron expression: m h dom mon dow")
    return value


Cron = Annotated[StrictStr, AfterValidator(_cron)]
# Dagster's freshness policies take no window under a minute.
FreshnessHours = Annotated[float, Strict(), Field(ge=1 / 60)]


def _known_resources(hours: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(hours) - set(ASSET_RESOURCES))
    if unknown:
        raise ValueError(
            f"{', '.join(shown(u, 'resource') for u in unknown)} is not a synced resource"
            f" ({', '.join(ASSET_RESOURCES)})"
        )
    return hours


@dataclass(frozen=True, config=_STRICT)
class DagsterSettings:
    """How and when Dagster runs the syncs."""

    nightly_cron: Cron = "0 2 * * *"
    reconcile_cron: Cron = "30 4 * * *"
    timezone: TimeZoneName = "Europe/Helsinki"
    max_runtime_s: PositiveInt = 4 * 3600
    # Each resource's freshness target: the `fresh` check fails, and the asset's Dagster
    # freshness policy turns red in the UI, when its last sync is older. Per resource
    # `freshness_hours_by_resource` overrides the default.
    freshness_hours: FreshnessHours = 26.0
    freshness_hours_by_resource: Annotated[
        dict[StrictStr, FreshnessHours], AfterValidator(_known_resources)
    ] = Field(default_factory=dict)
    # The webhook inbox sensor: how often it looks (Dagster's daemon loops every 5 s, so
    # 1 means every loop) and how old an event must be before it is refreshed. The frugal
    # profile batches about hourly: interval 3540, window 60.
    webhook_interval_s: PositiveInt = 1
    webhook_window_s: NonNegativeFloat = 0.0

    def freshness_hours_for(self, resource: str) -> float:
        """The resource's freshness target in hours: schedules.yaml's
        `freshness_hours_by_resource`, else its declaration's `freshness_hours`, else
        `freshness_hours`."""
        if resource in self.freshness_hours_by_resource:
            return self.freshness_hours_by_resource[resource]
        from pipelines.declarations import load_declarations

        asset = load_declarations().assets.get(resource)
        declared = asset.freshness_hours if asset is not None else None
        return declared if declared is not None else self.freshness_hours


class _SchedulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    dagster: DagsterSettings = Field(default_factory=DagsterSettings)


def load_dagster_settings(path: Path | None = None) -> DagsterSettings:
    """Read the `dagster:` section of config/schedules.yaml (defaults when absent).

    Raises:
        ConfigError: the file is malformed or names an unknown setting.
    """
    source = path or SCHEDULES_FILE or config_file("schedules.yaml")
    if not source.exists():
        return DagsterSettings()
    return validate_document(_SchedulesFile, read_yaml(source) or {}, source).dagster
