"""The transaction report in the terminal: rich tables, one account after another.

Per account: the headline figures (calls so far, forecast, the day the package runs out,
the cheapest package that fits), the settings that shape its spending, and the calls by
day, trigger, status and route.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from rich.table import Table

from pipelines.budget.report import UsageReport
from pipelines.budget.spending_settings import HEADING
from pipelines.budget.summary import summary_rows

_LEVEL_STYLE = {"ok": "green", "warn": "yellow", "over": "red"}


def _summary(report: UsageReport) -> Table:
    style = _LEVEL_STYLE[report.level]
    table = Table(title=f"{report.account}: calls {report.cycle.start:%Y-%m}")
    table.add_column("")
    table.add_column("value")
    for label, value in summary_rows(report):
        table.add_row(
            label, f"[{style}]{value}[/{style}]" if label.startswith("forecast") else value
        )
    return table


def _settings(report: UsageReport) -> Table:
    table = Table(title=f"{report.account}: {HEADING}")
    for column in ("setting", "value", "effect"):
        table.add_column(column)
    for setting in report.settings:
        table.add_row(setting.name, str(setting.value), setting.meaning)
    return table


def _counts(title: str, frame: pd.DataFrame, columns: Sequence[str]) -> Table:
    """A table of `frame[columns]`; integer columns right-aligned with thousands separators."""
    table = Table(title=title, min_width=len(title) + 4)  # a narrow table wraps its title
    numeric = [c for c in columns if pd.api.types.is_integer_dtype(frame[c])]
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left")
    for row in frame[list(columns)].itertuples(index=False):
        table.add_row(
            *(f"{v:,}" if c in numeric else str(v) for c, v in zip(columns, row, strict=True))
        )
    return table


def report_tables(report: UsageReport) -> list[Table]:
    """Every table of one account's report, in reading order."""
    name = report.account
    return [
        _summary(report),
        _settings(report),
        _counts(f"{name}: calls by day", report.by_day, ("day", "calls", "cumulative")),
        _counts(f"{name}: calls by trigger", report.by_trigger, ("trigger", "calls")),
        _counts(f"{name}: calls by status", report.by_status, ("status", "calls")),
        _counts(f"{name}: calls by route", report.by_route, ("method", "route", "calls", "failed")),
    ]
