"""Named spending profiles (config/profiles.yaml) and an account's choice among them.

A profile is what a budget owner picks for an account: how fresh webhook changes must be
(the window its events are batched on), how often the reconciliation sweep looks at each
account-wide list, how soon every cost centre's objects are re-scanned, the reserve kept
for webhooks, and how far the product may loosen all that when the account's forecast for
the billing cycle crosses its package (`adaptive`). An account names one (`profile:`) and
may override any part (`profile_overrides:`); `resolve_profile` applies the overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from pipelines.settings.files import CONFIG_DIR, config_file, read_yaml, validate_document
from pipelines.settings.values import NonNegativeFloat, PositiveFloat, PositiveInt

_MODEL = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
Fraction = Annotated[float, Field(strict=True, ge=0, le=1)]


def probed_lists(*, opt_in: bool = True) -> tuple[str, ...]:
    """The assets whose account-wide list the reconciliation sweep probes (declared ones
    without a fan-out, `sync.reconcile.probed_lists`), in priority order; `opt_in=False`:
    only those every account syncs."""
    from pipelines.declarations import load_declarations  # lazily: it reads settings

    return tuple(
        name
        for name, asset in load_declarations().assets.items()
        if asset.primary.spec.routes.fan_out is None and (opt_in or not asset.opt_in)
    )


def _probed_list(value: str) -> str:
    if value not in probed_lists():
        # Named like a Literal's error: "'kohteet' is not one of <every account's lists>".
        shown = [f"'{name}'" for name in probed_lists(opt_in=False)]
        expected = " or ".join([", ".join(shown[:-1]), shown[-1]] if len(shown) > 1 else shown)
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )
    return value


# An account-wide list the sweep probes (`probed_lists`); its cadence in days.
ProbedList = Annotated[str, Field(strict=True), AfterValidator(_probed_list)]
Cadence = dict[ProbedList, PositiveInt]


def __getattr__(name: str) -> Any:
    """`PROBED_LISTS`: the lists every account syncs (`probed_lists(opt_in=False)`)."""
    if name == "PROBED_LISTS":
        return probed_lists(opt_in=False)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DEFAULT_PROFILE = "default"
# The parts of a profile that are an account's `budget:` settings (same names, same meaning).
BUDGET_PARTS = (
    "reserve_for_webhooks",
    "full_scan_period_days",
    "list_rescan_period_days",
    "on_drift",
)


class AdaptiveLimits(BaseModel):
    """How far the product may loosen a profile while the forecast is over the package."""

    model_config = _MODEL

    max_webhook_window_s: NonNegativeFloat = 900.0
    max_reconcile_stretch: Annotated[float, Field(strict=True, ge=1)] = 4.0
    steps: PositiveInt = 4
    step_every_s: PositiveFloat = 3600.0
    tighten_below: Annotated[float, Field(strict=True, gt=0, le=1)] = 0.9


class Profile(BaseModel):
    """One named profile: freshness, reconciliation, reserve and the adaptive limits."""

    model_config = _MODEL

    webhook_window_s: NonNegativeFloat = 0.0
    reconcile_every_days: Cadence = Field(
        default_factory=lambda: dict.fromkeys(probed_lists(opt_in=False), 1)
    )
    full_scan_period_days: PositiveInt = 7
    list_rescan_period_days: PositiveInt = 7
    on_drift: Literal["locate", "wait"] = "locate"
    reserve_for_webhooks: Fraction = 0.1
    adaptive: AdaptiveLimits = Field(default_factory=AdaptiveLimits)

    @model_validator(mode="after")
    def _limits_hold_the_profile(self) -> Profile:
        if self.adaptive.max_webhook_window_s < self.webhook_window_s:
            raise ValueError(
                f"adaptive.max_webhook_window_s: must be at least webhook_window_s "
                f"({self.webhook_window_s:g}), got {self.adaptive.max_webhook_window_s:g}"
            )
        return self

    def cadence(self, resource: str) -> int:
        """Days between the sweep's looks at one account-wide list (1 when not listed)."""
        return self.reconcile_every_days.get(resource, 1)


class AdaptiveOverrides(BaseModel):
    """An account's changes to its profile's adaptive limits (each optional)."""

    model_config = _MODEL

    max_webhook_window_s: NonNegativeFloat | None = None
    max_reconcile_stretch: Annotated[float, Field(strict=True, ge=1)] | None = None
    steps: PositiveInt | None = None
    step_every_s: PositiveFloat | None = None
    tighten_below: Annotated[float, Field(strict=True, gt=0, le=1)] | None = None


class ProfileOverrides(BaseModel):
    """An account's changes to its named profile (each optional)."""

    model_config = _MODEL

    webhook_window_s: NonNegativeFloat | None = None
    reconcile_every_days: dict[ProbedList, PositiveInt] | None = None
    full_scan_period_days: PositiveInt | None = None
    list_rescan_period_days: PositiveInt | None = None
    on_drift: Literal["locate", "wait"] | None = None
    reserve_for_webhooks: Fraction | None = None
    adaptive: AdaptiveOverrides | None = None

    def set_parts(self) -> dict[str, Any]:
        """The parts the account sets, as plain values (nested ones merged by key)."""
        return self.model_dump(exclude_none=True)


class _ProfilesFile(BaseModel):
    model_config = _MODEL

    profiles: dict[str, Profile] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_default(self) -> _ProfilesFile:
        if DEFAULT_PROFILE not in self.profiles:
            raise ValueError(f"profiles: must define {DEFAULT_PROFILE!r} (accounts naming none)")
        return self


def profiles_file(environ: Mapping[str, str] | None = None) -> Path:
    """profiles.yaml in the config folder, else the project's (a config folder holding only
    the deployment's accounts still gets the shipped profiles)."""
    path = config_file("profiles.yaml", environ)
    return path if path.exists() else CONFIG_DIR / "profiles.yaml"


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """The named profiles, validated (cached while the file is unchanged).

    Raises:
        ConfigError: "<file>: profiles.<name>.<key>: <problem>".
    """
    source = path or profiles_file()
    try:
        stamp = source.stat().st_mtime_ns
    except OSError:
        stamp = -1  # read_yaml names the missing file
    return _load(source, stamp)


@lru_cache(maxsize=8)
def _load(source: Path, stamp: int) -> dict[str, Profile]:
    del stamp  # part of the cache key only
    return validate_document(_ProfilesFile, read_yaml(source), source).profiles


def resolve_profile(profile: Profile, overrides: ProfileOverrides | None) -> Profile:
    """The profile with the account's overrides applied (validated again as a whole)."""
    if overrides is None:
        return profile
    parts = overrides.set_parts()
    merged = profile.model_dump()
    for key, value in parts.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return Profile.model_validate(merged)
