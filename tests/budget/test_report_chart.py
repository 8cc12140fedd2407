"""The chart's legend sits outside the axes: its box overlaps no bar and no part of the
plot area, even when the busiest days are the first ones (where a legend in the upper
left used to cover them), and it stays inside the picture."""

from datetime import datetime
from zoneinfo import ZoneInfo

from pipelines.budget.render import chart_figure
from pipelines.budget.report import usage_report

from .helpers import make_account, put_calls

HKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2025, 6, 10, tzinfo=HKI)


def test_legend_does_not_cover_the_bars(engine):
    rows = [
        (datetime(2025, 6, day, 3, tzinfo=HKI), "GET", "r", 200, "nightly", calls)
        for day, calls in [(1, 400), (2, 380), (3, 350), (4, 20), (5, 10), (9, 5)]
    ]
    with engine.begin() as conn:
        put_calls(conn, "acme", rows)
    report = usage_report(engine, make_account(), now=NOW)
    assert report.runs_out_on is not None  # the run-out marker is in the legend too
    figure = chart_figure(report)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    assert [t.get_text() for t in legend.get_texts()][-1] == "package runs out 16 Jun"
    bars_axes = figure.axes[0]
    patches = [p for p in bars_axes.patches if p.get_height() > 0]
    assert len(patches) == 6
    for patch in patches:
        assert not box.overlaps(patch.get_window_extent(renderer))
    for axes in figure.axes:  # the bars' axes and the cumulative line's twin
        assert not box.overlaps(axes.get_window_extent(renderer))
    assert figure.bbox.contains(box.x0, box.y0) and figure.bbox.contains(box.x1, box.y1)
