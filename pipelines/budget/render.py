"""Drawing the transaction report: a PNG chart and a self-contained HTML page.

matplotlib with the Agg backend through `Figure` directly (no pyplot global state), so
rendering works on servers without a display and from threads.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from pipelines.budget.report import UsageReport

_LEVEL_COLOURS = {"ok": "#2e7d32", "warn": "#ef6c00", "over": "#c62828"}


def chart_png(report: UsageReport) -> bytes:
    """The chart as PNG bytes: calls per day, cumulative line, projection, package line."""
    figure = Figure(figsize=(10, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    bars = figure.add_subplot()
    days = [d.day for d in report.by_day["day"]]
    bars.bar(days, report.by_day["calls"], color="#90a4ae", label="calls per day")
    bars.set_xlabel(f"day of {report.cycle.start:%B %Y} ({report.cycle.timezone})")
    bars.set_ylabel("calls per day")
    bars.set_xlim(0.5, report.cycle.days + 0.5)
    line = bars.twinx()
    line.plot(days, report.by_day["cumulative"], color="#1565c0", marker=".", label="cumulative")
    if days:
        # The projection: from today's cumulative to the projected month-end total.
        line.plot(
            [days[-1], report.cycle.days],
            [report.by_day["cumulative"].iloc[-1], report.projected],
            color="#1565c0",
            linestyle=":",
            label=f"projected {report.projected:,}",
        )
    line.axhline(
        report.package.included_calls,
        color=_LEVEL_COLOURS[report.level],
        linestyle="--",
        label=f"{report.package.label}: {report.package.included_calls:,} included",
    )
    line.set_ylabel("cumulative calls")
    line.set_ylim(bottom=0)
    handles = bars.get_legend_handles_labels()[0] + line.get_legend_handles_labels()[0]
    labels = bars.get_legend_handles_labels()[1] + line.get_legend_handles_labels()[1]
    line.legend(handles, labels, loc="upper left", fontsize="small")
    figure.suptitle(
        f"Tampuuri API calls: {report.account}, {report.used:,} used,"
        f" projected {report.projected:,} ({report.level})"
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def render_png(report: UsageReport, path: Path) -> Path:
    """Write the chart to `path` (PNG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(chart_png(report))
    return path


def _table(frame: pd.DataFrame, title: str) -> str:
    if frame.empty:
        return f"<h2>{html.escape(title)}</h2><p>none</p>"
    rendered: str = frame.to_html(index=False, escape=True, border=0)
    return f"<h2>{html.escape(title)}</h2>" + rendered


def render_html(report: UsageReport, path: Path) -> Path:
    """Write a self-contained HTML page (chart inline) to `path`."""
    chart = base64.b64encode(chart_png(report)).decode("ascii")
    costs = pd.DataFrame(
        [
            {"package": p.label, "included calls": p.included_calls, "cost €": str(p.cost_eur)}
            for p in report.package_costs
        ]
    )
    summary = (
        f"<p>Cycle {report.cycle.start:%Y-%m-%d} – {report.cycle.end:%Y-%m-%d}"
        f" ({html.escape(report.cycle.timezone)}). Package {html.escape(report.package.label)}:"
        f" {report.package.included_calls:,} calls included, ceiling {report.allowance:,}.</p>"
        f"<p>Used <b>{report.used:,}</b> calls ({report.failed_calls:,} failed), projected"
        f" <b>{report.projected:,}</b> by the cycle's end (linear on elapsed time):"
        f" <b style='color:{_LEVEL_COLOURS[report.level]}'>{report.level}</b>."
        f" Cost so far {report.cost_so_far_eur} €, projected {report.projected_cost_eur} €;"
        f" cheapest package for the projected use: {html.escape(report.cheapest)}.</p>"
    )
    page = "\n".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>Tampuuri API transactions: {html.escape(report.account)}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{padding:2px 10px;text-align:right}</style></head><body>",
            f"<h1>Tampuuri API transactions: {html.escape(report.account)}</h1>",
            summary,
            f"<img alt='calls per day' src='data:image/png;base64,{chart}'>",
            _table(costs, "Projected cost per package"),
            _table(report.by_route, "Calls by route"),
            _table(report.by_trigger, "Calls by trigger"),
            _table(report.by_status, "Calls by status"),
            _table(report.failed, "Failed calls (status none or ≥ 400)"),
            _table(report.by_day, "Calls by day"),
            "</body></html>",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
