"""Drawing the transaction report: a PNG chart and a self-contained HTML page.

matplotlib with the Agg backend through `Figure` directly (no pyplot global state), so
rendering works on servers without a display and from threads.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipelines.budget.report import UsageReport

_LEVEL_COLOURS = {"ok": "#2e7d32", "warn": "#ef6c00", "over": "#c62828"}
BAR_COLOUR = "#90a4ae"


def chart_figure(report: UsageReport) -> Figure:
    """The chart: calls per day (bars), the cumulative line, the forecast and the package.

    The legend sits below the axes (outside them), so it never covers a bar or the line.
    """
    figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    bars = figure.add_subplot()
    days = [d.day for d in report.by_day["day"]]
    bars.bar(days, report.by_day["calls"], color=BAR_COLOUR, label="calls per day")
    bars.set_xlabel(f"day of {report.cycle.start:%B %Y} ({report.cycle.timezone})")
    bars.set_ylabel("calls per day")
    bars.set_xlim(0.5, report.cycle.days + 0.5)
    line = bars.twinx()
    line.plot(days, report.by_day["cumulative"], color="#1565c0", marker=".", label="cumulative")
    if days:
        # The forecast: from today's cumulative to the forecast month-end total.
        line.plot(
            [days[-1], report.cycle.days],
            [report.by_day["cumulative"].iloc[-1], report.projected],
            color="#1565c0",
            linestyle=":",
            label=f"forecast {report.projected:,}",
        )
    line.axhline(
        report.package.included_calls,
        color=_LEVEL_COLOURS[report.level],
        linestyle="--",
        label=f"{report.package.label}: {report.package.included_calls:,} included",
    )
    if report.runs_out_on is not None:
        verb = "ran" if report.used >= report.package.included_calls else "runs"
        line.axvline(
            report.runs_out_on.day,
            color=_LEVEL_COLOURS["over"],
            linestyle="-.",
            label=f"package {verb} out {report.runs_out_on:%-d %b}",
        )
    line.set_ylabel("cumulative calls")
    line.set_ylim(bottom=0)
    handles = bars.get_legend_handles_labels()[0] + line.get_legend_handles_labels()[0]
    labels = bars.get_legend_handles_labels()[1] + line.get_legend_handles_labels()[1]
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    figure.suptitle(
        f"Tampuuri API calls: {report.account}, {report.used:,} so far,"
        f" forecast {report.projected:,} ({report.level})"
    )
    return figure


def chart_png(report: UsageReport) -> bytes:
    """The chart (`chart_figure`) as PNG bytes."""
    buffer = io.BytesIO()
    chart_figure(report).savefig(buffer, format="png")
    return buffer.getvalue()


def chart_thumbnail_png(report: UsageReport, width: int = 300, height: int = 72) -> bytes:
    """A few-hundred-byte sparkline: cumulative calls per day (bars), the forecast (blue)
    and the included calls (a line in the level's colour); 4 colours, no text.

    Small enough to sit inline in a Dagster metadata table (markdown under 1,000
    characters is shown there without a click).
    """
    from PIL import Image

    dpi = 80
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    days = [d.day for d in report.by_day["day"]]
    cumulative = report.by_day["cumulative"]
    axes.bar(days, cumulative, color=BAR_COLOUR, width=0.8, antialiased=False)
    if days:
        axes.plot(
            [days[-1], report.cycle.days],
            [cumulative.iloc[-1], report.projected],
            color="#1565c0",
            linewidth=2,
            antialiased=False,
        )
    axes.axhline(
        report.package.included_calls,
        color=_LEVEL_COLOURS[report.level],
        linewidth=1.5,
        antialiased=False,
    )
    axes.set_xlim(0.5, report.cycle.days + 0.5)
    axes.set_ylim(0, max(report.projected, report.package.included_calls, 1) * 1.05)
    drawn = io.BytesIO()
    figure.savefig(drawn, format="png")
    image = Image.open(drawn).convert("RGB").quantize(colors=4)
    small = io.BytesIO()
    image.save(small, format="PNG", optimize=True, bits=2)
    return small.getvalue()


def render_png(report: UsageReport, path: Path) -> Path:
    """Write the chart to `path` (PNG)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(chart_png(report))
    return path


def _table(frame: pd.DataFrame, title: str) -> str:
    if frame.empty:
        return f"<h2>{html.escape(title)}</h2><p>none</p>"
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_integer_dtype(shown[column]):
            shown[column] = shown[column].map("{:,}".format)
    rendered: str = shown.to_html(index=False, escape=True, border=0)
    return f"<h2>{html.escape(title)}</h2>" + rendered


def _pairs(rows: list[tuple[str, str]], css_class: str) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f"<table class='{css_class}'>{cells}</table>"


def render_html(report: UsageReport, path: Path) -> Path:
    """Write a self-contained HTML page to `path`: no scripts, no links, the chart inline."""
    from pipelines.budget.spending_settings import HEADING
    from pipelines.budget.summary import summary_rows

    chart = base64.b64encode(chart_png(report)).decode("ascii")
    costs = pd.DataFrame(
        [
            {
                "package": p.label,
                "included calls": p.included_calls,
                "ceiling": p.ceiling_calls,
                "forecast fits": "yes" if p.fits else "no",
                "cost €": str(p.cost_eur),
            }
            for p in report.package_costs
        ]
    )
    settings = pd.DataFrame(
        [{"setting": s.name, "value": str(s.value), "effect": s.meaning} for s in report.settings]
    )
    account = html.escape(report.account)
    page = "\n".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>Tampuuri API calls: {account}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
            "td,th{padding:2px 10px;text-align:left}img{max-width:100%}</style></head><body>",
            f"<h1>Tampuuri API calls: {account}, {report.cycle.start:%B %Y}</h1>",
            _pairs(summary_rows(report), "summary"),
            f"<img id='chart' alt='calls per day against the package'"
            f" src='data:image/png;base64,{chart}'>",
            _table(costs, "Forecast cost per package"),
            _table(settings, HEADING),
            _table(report.by_day, "Calls by day"),
            _table(report.by_trigger, "Calls by trigger"),
            _table(report.by_status, "Calls by status"),
            _table(report.by_route, "Calls by route"),
            _table(report.failed, "Failed calls (status none or ≥ 400)"),
            "</body></html>",
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
