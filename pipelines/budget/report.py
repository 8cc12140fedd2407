"""The transaction report: this cycle's calls from the ledger, the forecast and its outlook.

Tampuuri reports usage in its own graphical "Transaktioraportti"; this is ours, built
from `ops.api_calls` (every request we sent, retries and failures too), so it can be
checked against Tampuuri's bill before the bill arrives.

Forecast (`forecast.FORECAST_METHOD`): linear on the elapsed fraction of the cycle in real
time, forecast = ceil(used × cycle length / elapsed), never below `used`; the elapsed time
counts as at least one day so the first hours of a month do not extrapolate wildly
(`BillingCycle.project`). At that rate the package runs out on `runs_out_on` (None: it
lasts the cycle). The warning level compares the forecast with the package's included
calls: "ok" below 80 %, "warn" from 80 %, "over" from 100 %.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, text

from pipelines.budget.forecast import (
    FORECAST_METHOD,
    PackageCost,
    cheapest_fitting,
    package_costs,
    runs_out_on,
)
from pipelines.budget.packages import (
    BillingCycle,
    Package,
    allowance,
    load_packages,
    package_for,
)
from pipelines.budget.spending_settings import SpendingSetting, spending_settings
from pipelines.settings import AccountConfig

Level = Literal["ok", "warn", "over"]
WARN_FRACTION = Decimal("0.8")
# One row per local day, route, status and trigger: the ledger can hold 100,000 calls a
# month; PostgreSQL groups them and pandas gets a few hundred rows.
LEDGER_GROUPS = text(
    "SELECT (sent_at AT TIME ZONE :tz)::date AS day, method, route, status, trigger,"
    " count(*) AS calls"
    " FROM ops.api_calls"
    " WHERE account = :account AND sent_at >= :start AND sent_at < :until"
    " GROUP BY 1, 2, 3, 4, 5"
)
_COLUMNS = ["day", "method", "route", "status", "trigger", "calls"]


def warning_level(projected: int, included_calls: int) -> Level:
    """ "ok", "warn" (projected ≥ 80 % of included) or "over" (≥ 100 %)."""
    if included_calls <= 0:
        return "over" if projected > 0 else "ok"
    if projected >= included_calls:
        return "over"
    return "warn" if projected >= WARN_FRACTION * included_calls else "ok"


@dataclass(frozen=True)
class UsageReport:
    """One account's calls this cycle, by day, route, trigger and status, and the outlook."""

    account: str
    package: Package
    cycle: BillingCycle
    now: datetime
    used: int
    allowance: int
    by_day: pd.DataFrame  # day, calls, cumulative (every day of the cycle up to today)
    by_route: pd.DataFrame  # method, route, calls, failed
    by_trigger: pd.DataFrame  # trigger, calls
    by_status: pd.DataFrame  # status ("200", ..., "none" for transport errors), calls
    failed: pd.DataFrame  # method, route, status, calls: status NULL or >= 400
    projected: int
    cost_so_far_eur: Decimal
    projected_cost_eur: Decimal
    package_costs: tuple[PackageCost, ...]
    cheapest: PackageCost | None  # the cheapest package the forecast fits; None: none does
    level: Level
    runs_out_on: date | None  # the day the included calls run out at the current rate
    ceiling_reached_on: date | None  # the day the allowance (ceiling) is reached
    settings: tuple[SpendingSetting, ...]

    @property
    def failed_calls(self) -> int:
        return int(self.failed["calls"].sum()) if len(self.failed) else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; money as strings with two decimals (exact)."""
        return {
            "account": self.account,
            "package": self.package.name,
            "included_calls": self.package.included_calls,
            "allowance": self.allowance,
            "cycle": {
                "start": self.cycle.start.isoformat(),
                "end": self.cycle.end.isoformat(),
                "timezone": self.cycle.timezone,
            },
            "now": self.now.isoformat(),
            "used": self.used,
            "failed_calls": self.failed_calls,
            "projected": self.projected,
            "projection_method": FORECAST_METHOD,
            "runs_out_on": _iso(self.runs_out_on),
            "ceiling_reached_on": _iso(self.ceiling_reached_on),
            "level": self.level,
            "cost_so_far_eur": str(self.cost_so_far_eur),
            "projected_cost_eur": str(self.projected_cost_eur),
            "cheapest_package": self.cheapest.name if self.cheapest else None,
            "packages": [
                {
                    "name": p.name,
                    "label": p.label,
                    "included_calls": p.included_calls,
                    "ceiling_calls": p.ceiling_calls,
                    "cost_eur": str(p.cost_eur),
                    "fits": p.fits,
                }
                for p in self.package_costs
            ],
            "settings": {s.name: s.value for s in self.settings},
            "by_day": [
                {"day": d.isoformat(), "calls": int(c), "cumulative": int(t)}
                for d, c, t in self.by_day[["day", "calls", "cumulative"]].itertuples(index=False)
            ],
            "by_route": _records(self.by_route),
            "by_trigger": _records(self.by_trigger),
            "by_status": _records(self.by_status),
            "failed": _records(self.failed),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        # numpy scalars to plain Python for json
        {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _status_label(status: Any) -> str:
    return "none" if status is None or pd.isna(status) else str(int(status))


def _ledger_frame(
    engine: Engine, account: str, cycle: BillingCycle, until: datetime
) -> pd.DataFrame:
    params = {
        "tz": cycle.timezone,
        "account": account,
        "start": cycle.start,
        "until": until,
    }
    with engine.connect() as conn:
        rows = conn.execute(LEDGER_GROUPS, params).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=_COLUMNS)
    frame["calls"] = frame["calls"].astype("int64")
    frame["status"] = frame["status"].astype("object")
    return frame


def _days(cycle: BillingCycle, now: datetime) -> list[date]:
    first = cycle.start.date()
    today = min(now.astimezone(cycle.start.tzinfo).date(), cycle.end.date() - timedelta(days=1))
    return [first + timedelta(days=i) for i in range((today - first).days + 1)]


def usage_report(
    engine: Engine,
    account: AccountConfig,
    *,
    now: datetime,
    packages: dict[str, Package] | None = None,
) -> UsageReport:
    """This cycle's usage of `account` up to `now`, projected to the cycle's end.

    Args:
        engine: The warehouse.
        account: The account (its package, budget ceiling and billing timezone).
        now: The report time (aware); calls after it are not counted.
        packages: The package list; default `config/packages.yaml`.
    """
    known = packages if packages is not None else load_packages()
    package = package_for(account, known)
    cycle = BillingCycle.for_account(account, now)
    until = min(now, cycle.end)
    ledger = _ledger_frame(engine, account.name, cycle, until)
    used = int(ledger["calls"].sum())

    per_day = ledger.groupby("day")["calls"].sum()
    days = _days(cycle, now)
    by_day = pd.DataFrame({"day": days, "calls": [int(per_day.get(d, 0)) for d in days]})
    by_day["cumulative"] = by_day["calls"].cumsum()

    ledger["status_label"] = [_status_label(s) for s in ledger["status"]]
    status = ledger["status"].fillna(0).astype(int)
    # A 404 from a detail route is how a sync proves a row deleted: billed, not a failure
    # (as the demo counts it).
    proof = (status == 404) & ledger["route"].str.contains("{", regex=False)
    is_failed = ledger["status"].isna() | ((status >= 400) & ~proof)
    ledger["failed"] = ledger["calls"].where(is_failed, 0)
    by_route = (
        ledger.groupby(["method", "route"], as_index=False)[["calls", "failed"]]
        .sum()
        .sort_values(["calls", "route"], ascending=[False, True], ignore_index=True)
    )
    by_trigger = (
        ledger.groupby("trigger", as_index=False)["calls"]
        .sum()
        .sort_values(["calls", "trigger"], ascending=[False, True], ignore_index=True)
    )
    by_status = (
        ledger.groupby("status_label", as_index=False)["calls"]
        .sum()
        .rename(columns={"status_label": "status"})
        .sort_values("status", ignore_index=True)
    )
    failed = (
        ledger[is_failed]
        .groupby(["method", "route", "status_label"], as_index=False)["calls"]
        .sum()
        .rename(columns={"status_label": "status"})
        .sort_values(["calls", "route"], ascending=[False, True], ignore_index=True)
    )

    projected = cycle.project(used, now)
    costs = package_costs(account, known.values(), projected)
    ceiling = allowance(account, package)
    return UsageReport(
        account=account.name,
        package=package,
        cycle=cycle,
        now=now,
        used=used,
        allowance=ceiling,
        by_day=by_day,
        by_route=by_route,
        by_trigger=by_trigger,
        by_status=by_status,
        failed=failed,
        projected=projected,
        cost_so_far_eur=package.cost(used),
        projected_cost_eur=package.cost(projected),
        package_costs=costs,
        cheapest=cheapest_fitting(costs),
        level=warning_level(projected, package.included_calls),
        runs_out_on=runs_out_on(cycle, by_day, used, now, package.included_calls),
        ceiling_reached_on=runs_out_on(cycle, by_day, used, now, ceiling),
        settings=spending_settings(account, package),
    )
