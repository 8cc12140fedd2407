"""The report's headline figures as (label, value) sentences: one wording for the
terminal, the HTML page and the Dagster UI."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from pipelines.budget.forecast import FORECAST_METHOD

if TYPE_CHECKING:
    from pipelines.budget.report import UsageReport


def _run_out(day: date | None, reached: bool, what: str) -> str:
    if day is None:
        return f"not this cycle at the current rate ({what} last the cycle)"
    if reached:
        return f"ran out on {day:%Y-%m-%d}"
    return f"on {day:%Y-%m-%d} at the current rate"


def summary_rows(report: UsageReport) -> list[tuple[str, str]]:
    """The headline figures of one account's report, in reading order."""
    package = report.package
    last_day = report.cycle.end.date() - timedelta(days=1)
    today = report.now.astimezone(report.cycle.start.tzinfo)
    share = report.projected / package.included_calls if package.included_calls else 1
    rows = [
        (
            "package",
            f"{package.label}: {package.included_calls:,} calls included,"
            f" ceiling {report.allowance:,}",
        ),
        (
            "calls so far",
            f"{report.used:,} ({report.failed_calls:,} failed),"
            f" {report.cycle.start:%Y-%m-%d} to {today:%Y-%m-%d %H:%M} {report.cycle.timezone}",
        ),
        (
            "forecast for the cycle",
            f"{report.projected:,} calls by {last_day:%Y-%m-%d}"
            f" ({report.level}: {share:.0%} of the included calls)",
        ),
        ("forecast method", FORECAST_METHOD),
        (
            "package runs out",
            _run_out(
                report.runs_out_on,
                report.used >= package.included_calls,
                "the included calls",
            ),
        ),
    ]
    if report.allowance != package.included_calls:
        rows.append(
            (
                "ceiling reached",
                _run_out(report.ceiling_reached_on, report.used >= report.allowance, "the ceiling"),
            )
        )
    rows += [
        ("cost so far", f"{report.cost_so_far_eur} €"),
        ("forecast cost", f"{report.projected_cost_eur} € on {package.label}"),
        ("cheapest package that fits", _cheapest(report)),
    ]
    return rows


def _cheapest(report: UsageReport) -> str:
    best = report.cheapest
    if best is None:
        return f"none: the forecast {report.projected:,} exceeds every package's ceiling"
    return (
        f"{best.label} ({best.included_calls:,} included, ceiling {best.ceiling_calls:,}):"
        f" {best.cost_eur} € for the forecast"
    )
