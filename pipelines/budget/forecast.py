"""The outlook a budget owner reads: when the package runs out, which package fits.

The forecast is linear on the cycle so far (`BillingCycle.project`): calls so far ÷
elapsed cycle time × the cycle's length, the elapsed time counted as at least one day.
At that rate the package runs out when the included calls are reached; the cheapest
package that fits is the cheapest one whose calls, with the overage the account's budget
ceiling allows on it, hold the forecast.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd

from pipelines.budget.packages import (
    MIN_PROJECTION_ELAPSED,
    BillingCycle,
    Package,
    ceiling_calls,
)
from pipelines.settings import AccountConfig

FORECAST_METHOD = (
    "linear: calls so far ÷ elapsed cycle time × cycle length (elapsed counted as at least one day)"
)


@dataclass(frozen=True)
class PackageCost:
    """What the forecast month would cost on one package, and whether it fits there.

    Attributes:
        ceiling_calls: the included calls plus the overage the account's budget ceiling
            allows on this package (what the budget guard lets the account spend).
        fits: the forecast is within `ceiling_calls`.
    """

    name: str
    label: str
    included_calls: int
    ceiling_calls: int
    cost_eur: Decimal
    fits: bool


def package_costs(
    account: AccountConfig, packages: Iterable[Package], forecast: int
) -> tuple[PackageCost, ...]:
    """Each package's cost for `forecast` calls and whether the forecast fits it."""
    costs = []
    for package in packages:
        ceiling = ceiling_calls(account.budget, package)
        costs.append(
            PackageCost(
                name=package.name,
                label=package.label,
                included_calls=package.included_calls,
                ceiling_calls=ceiling,
                cost_eur=package.cost(forecast),
                fits=forecast <= ceiling,
            )
        )
    return tuple(costs)


def cheapest_fitting(costs: Iterable[PackageCost]) -> PackageCost | None:
    """The cheapest package the forecast fits (ties: the earlier, smaller one), or None."""
    fitting = [c for c in costs if c.fits]
    return min(fitting, key=lambda c: c.cost_eur) if fitting else None


def runs_out_on(
    cycle: BillingCycle, by_day: pd.DataFrame, used: int, now: datetime, limit: int
) -> date | None:
    """The local day `limit` calls are reached at the current rate; None if not this cycle.

    Already reached: the day the cumulative count first reached it (`by_day`). Otherwise
    the rate is the forecast's (used ÷ elapsed, elapsed at least one day) carried on from
    `now`; a day at or after the cycle's end means the package lasts the cycle.
    """
    if used >= limit:
        reached = by_day[by_day["cumulative"] >= limit]
        return reached["day"].iloc[0] if len(reached) else cycle.start.date()
    if used <= 0:
        return None
    elapsed = max(cycle.elapsed(now), min(MIN_PROJECTION_ELAPSED, cycle.length))
    # The moment the last included call is spent; one exactly at midnight ends the day before.
    moment = now + elapsed * ((limit - used) / used) - timedelta(microseconds=1)
    if moment >= cycle.end:
        return None
    return moment.astimezone(cycle.start.tzinfo).date()
