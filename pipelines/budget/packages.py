"""Tampuuri API packages, the billing cycle and how many calls an account may spend.

Tampuuri bills every call (failed ones too) against a monthly package: Standard 2,000
calls, Normal 40,000, Business 100,000, Enterprise negotiated; calls over the package are
billed per call at a contract price. The packages live in `config/packages.yaml`.

The billing cycle is the calendar month in the account's billing timezone (Helsinki by
default): a cycle starts at local midnight on the 1st, so in UTC it starts at 22:00 or
21:00 on the last day of the previous month depending on daylight saving time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from pipelines.settings import (
    AccountConfig,
    BudgetSettings,
    ConfigError,
    config_file,
    read_yaml,
    validate_document,
)
from pipelines.settings.errors import shown
from pipelines.settings.values import NonNegativeInt, StrictStr

CENT = Decimal("0.01")
# Projections over less than this much of a cycle would extrapolate a few minutes of calls
# into a month; the elapsed time is counted as at least this long.
MIN_PROJECTION_ELAPSED = timedelta(days=1)


@dataclass(frozen=True)
class Package:
    """One monthly API package; money is Decimal so cost arithmetic is exact."""

    name: str
    label: str
    included_calls: int
    monthly_fee_eur: Decimal
    overage_eur_per_call: Decimal

    def overage_calls(self, calls: int) -> int:
        """Calls beyond the package's included calls."""
        return max(0, calls - self.included_calls)

    def cost(self, calls: int) -> Decimal:
        """The month's bill for `calls` calls: the fee plus overage, rounded to cents."""
        total = self.monthly_fee_eur + self.overage_calls(calls) * self.overage_eur_per_call
        return total.quantize(CENT, rounding=ROUND_HALF_UP)


def _exact(value: object) -> object:
    # str() first: YAML gives floats, and Decimal(0.05) would carry the binary error. A bool
    # (YAML's `true`) or a string is no amount: refused, not converted.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"must be a number of euros, got {shown(value, 'amount')}")
    return value if isinstance(value, Decimal) else Decimal(str(value))


Euros = Annotated[Decimal, BeforeValidator(_exact), Field(strict=True, ge=0, allow_inf_nan=False)]


class _PackageSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    label: StrictStr | None = None
    included_calls: NonNegativeInt
    monthly_fee_eur: Euros
    overage_eur_per_call: Euros


class _PackagesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    packages: dict[StrictStr, _PackageSpec] = Field(min_length=1)


def load_packages(path: Path | None = None) -> dict[str, Package]:
    """The packages of `config/packages.yaml`, by name, in file order.

    Raises:
        ConfigError: naming the file and key path that is missing or malformed.
    """
    source = path or config_file("packages.yaml")
    document = validate_document(_PackagesFile, read_yaml(source), source)
    return {
        name: Package(
            name=name,
            label=spec.label or name,
            included_calls=spec.included_calls,
            monthly_fee_eur=spec.monthly_fee_eur,
            overage_eur_per_call=spec.overage_eur_per_call,
        )
        for name, spec in document.packages.items()
    }


def package_for(account: AccountConfig, packages: dict[str, Package] | None = None) -> Package:
    """The package an account is on (its `package` setting, matched case-insensitively)."""
    known = packages if packages is not None else load_packages()
    by_lower = {name.lower(): package for name, package in known.items()}
    package = by_lower.get(account.package.lower())
    if package is None:
        raise ConfigError(
            f"account {account.name!r}: package: unknown package {account.package!r}; "
            f"known: {', '.join(known)}"
        )
    return package


def ceiling_calls(budget: BudgetSettings, package: Package) -> int:
    """The calls a cycle may spend under a budget ceiling.

    `package` stops at the included calls; `{overage_calls: N}` allows N more;
    `{overage_eur: X}` allows as many more as X euros buy at the package's overage price.
    When both keys are given the stricter one wins. A euro ceiling on a package whose
    overage price is 0 cannot be turned into calls and allows no overage.
    """
    if budget.ceiling == "package":
        return package.included_calls
    extras: list[int] = []
    if "overage_calls" in budget.ceiling:
        extras.append(max(0, math.floor(budget.ceiling["overage_calls"])))
    if "overage_eur" in budget.ceiling:
        price = package.overage_eur_per_call
        euros = Decimal(str(budget.ceiling["overage_eur"]))
        extras.append(int(euros // price) if price > 0 and euros > 0 else 0)
    return package.included_calls + (min(extras) if extras else 0)


def allowance(account: AccountConfig, package: Package) -> int:
    """The calls `account` may spend this cycle: its package within its budget ceiling."""
    return ceiling_calls(account.budget, package)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def cycle_bounds(now: datetime, tz: str | ZoneInfo) -> tuple[datetime, datetime]:
    """The calendar month containing `now` in `tz`: [start, end) as aware local datetimes.

    Raises:
        ValueError: if `now` is naive (a naive time has no place in a billing cycle).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = _zone(tz)
    local = now.astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return start, datetime(year, month, 1, tzinfo=zone)


@dataclass(frozen=True)
class BillingCycle:
    """One billing cycle: a calendar month in the billing timezone, [start, end)."""

    start: datetime
    end: datetime
    timezone: str

    @classmethod
    def containing(cls, now: datetime, tz: str = "Europe/Helsinki") -> BillingCycle:
        start, end = cycle_bounds(now, tz)
        return cls(start=start, end=end, timezone=tz)

    @classmethod
    def for_account(cls, account: AccountConfig, now: datetime) -> BillingCycle:
        return cls.containing(now, account.budget.billing_timezone)

    @property
    def days(self) -> int:
        """Calendar days in the cycle (28 to 31)."""
        return (self.end.date() - self.start.date()).days

    @property
    def length(self) -> timedelta:
        """The cycle's real length (a DST month is an hour shorter or longer)."""
        # Aware subtraction across one zone is wall-clock; go through UTC for real time.
        return self.end.astimezone(ZoneInfo("UTC")) - self.start.astimezone(ZoneInfo("UTC"))

    def elapsed(self, now: datetime) -> timedelta:
        """Real time elapsed in the cycle at `now`, clamped to [0, length]."""
        utc = ZoneInfo("UTC")
        spent = now.astimezone(utc) - self.start.astimezone(utc)
        return min(max(spent, timedelta(0)), self.length)

    def project(self, used: int, now: datetime) -> int:
        """Month-end calls if spending goes on at the rate so far (linear, rounded up).

        projected = ceil(used × cycle length / elapsed), in real time; elapsed counts as at
        least one day so that the first hours of a month do not explode the projection. The
        projection is never below what is already used.
        """
        elapsed = max(self.elapsed(now), min(MIN_PROJECTION_ELAPSED, self.length))
        micro = timedelta(microseconds=1)
        projected = -(-used * (self.length // micro) // (elapsed // micro))
        return max(used, projected)
