"""Tunables of a sync run: the `sync:` section of config/sync.yaml.

`SyncSettings` is a (pydantic) dataclass: `dataclasses.replace(settings, max_attempts=3)`
validates the new value like the file's. Bounds are what keeps a run from hanging or
spending calls on nothing: no concurrency of 0, no timeout of 0 or below, at least one
attempt per call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.dataclasses import dataclass

from pipelines.settings.files import config_file, read_yaml, validate_document
from pipelines.settings.values import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)


@dataclass(frozen=True, config=_STRICT)
class SyncSettings:
    """Tunables of a sync run (config/sync.yaml)."""

    # (128: room for 4x the default, still refusing a typo's 1000)
    page_concurrency: PositiveInt = Field(default=24, le=128)
    scope_concurrency: PositiveInt = Field(default=4, le=64)
    scopes_per_transaction: PositiveInt = Field(default=50, le=10_000)
    connect_timeout_s: PositiveFloat = Field(default=5.0, le=600)
    read_timeout_s: PositiveFloat = Field(default=30.0, le=3600)
    max_attempts: PositiveInt = Field(default=6, le=20)
    retry_cap_per_run: NonNegativeInt = 500
    backoff_initial_s: NonNegativeFloat = Field(default=0.5, le=600)
    backoff_max_s: NonNegativeFloat = Field(default=30.0, le=3600)
    overlap_minutes: NonNegativeInt = Field(default=10, le=7 * 24 * 60)
    max_drift_passes: NonNegativeInt = Field(default=3, le=100)

    @model_validator(mode="after")
    def _backoff_grows(self) -> SyncSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s: must be at least backoff_initial_s")
        return self


class _SyncFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    sync: SyncSettings = Field(default_factory=SyncSettings)

    @field_validator("sync", mode="before")
    @classmethod
    def _empty_section_is_defaults(cls, value: Any) -> Any:
        return {} if value is None else value  # `sync:` with every line commented out


def load_sync_settings(path: Path | None = None) -> SyncSettings:
    """Read config/sync.yaml's `sync:` section.

    Raises:
        ConfigError: a wrong type, an out-of-range number or an unknown key, named by its
            key path (`sync.page_concurrency: must be an integer, got 2.7`).
    """
    source = path or config_file("sync.yaml")
    return validate_document(_SyncFile, read_yaml(source) or {}, source).sync
