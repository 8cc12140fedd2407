"""`call_budget` in the Dagster UI: the chart comes first, a sparkline small enough to be
shown inline in the metadata table (markdown under 1,000 characters needs no click),
then the full chart with the headline figures behind one "[Show Markdown]"; the figures a
budget owner reads (forecast, run-out day, cheapest package that fits, settings) follow as
plain entries. Checked on the report function and on a real materialisation."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from pipelines import definitions
from pipelines.assets.budget import INLINE_MARKDOWN_CHARS, budget_metadata
from pipelines.budget.month_usage import month_usage
from pipelines.budget.report import usage_report
from pipelines.simulator import Simulator, SimulatorConfig
from tests.dagster.sim_accounts import ACCOUNTS, write_accounts
from tests.dagster.test_dagster_budget import _budget as materialise_budget

from .helpers import make_account, put_calls

HKI = ZoneInfo("Europe/Helsinki")
DATA_PNG = re.compile(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def _png(markdown: str) -> Image.Image:
    (encoded,) = DATA_PNG.findall(markdown)
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


def test_chart_first_and_the_preview_inline(engine):
    # A busy, uneven 31-day month: the sparkline's worst case for size.
    rows = [
        (datetime(2025, 7, day, 3, tzinfo=HKI), "GET", "r", 200, "nightly", (day * 37) % 90 * 3 + 1)
        for day in range(1, 31)
    ]
    with engine.begin() as conn:
        put_calls(conn, "acme", rows)
    report = usage_report(engine, make_account(), now=datetime(2025, 7, 31, 12, tzinfo=HKI))
    metadata = budget_metadata(report)
    assert list(metadata)[:2] == ["chart_preview", "chart"]
    preview = metadata["chart_preview"].value
    assert len(preview) < INLINE_MARKDOWN_CHARS
    assert _png(preview).size == (300, 72)
    chart = metadata["chart"].value
    assert _png(chart).size == (1000, 500)
    assert f"| forecast for the cycle | {report.projected:,} calls by 2025-07-31" in chart
    assert metadata["package_runs_out"].value.startswith("ran out on 2025-07-")
    assert metadata["cheapest_package_that_fits"].value.startswith("Normal (40,000 included")
    assert metadata["cheapest_package"].value == "normal"
    settings = metadata["spending_settings"].value
    assert "| budget.on_drift | locate |" in settings
    assert len(settings) < INLINE_MARKDOWN_CHARS


def test_materialised_call_budget_carries_the_chart_first(
    engine, warehouse_url, tmp_path: Path, monkeypatch
):
    sim = Simulator(SimulatorConfig(seed=3, scale=100, accounts=ACCOUNTS))
    write_accounts(sim, "http://sim/v10/api/", tmp_path, monkeypatch)
    with engine.begin() as conn:
        put_calls(conn, "demo-a", [(datetime.now(UTC), "GET", "r", 200, "nightly", 12)])
    result = materialise_budget(definitions.defs(), warehouse_url)  # partition demo-a
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert list(metadata)[:2] == ["chart_preview", "chart"]
    assert len(metadata["chart_preview"].value) < INLINE_MARKDOWN_CHARS
    assert metadata["used_calls"].value == 12
    assert metadata["package_runs_out"].value.startswith("not this cycle")


def test_sync_assets_show_the_cycle_forecast(engine):
    """Each sync asset's `calls_this_month` carries the same forecast as `budget`."""
    now = datetime(2025, 6, 7, tzinfo=HKI)  # six of 30 days
    with engine.begin() as conn:
        put_calls(conn, "acme", [(datetime(2025, 6, 2, tzinfo=HKI), "GET", "r", 200, "n", 600)])
    account = make_account(package="normal")
    with engine.connect() as conn:
        usage = month_usage(conn, account, now)
    assert usage.describe() == "600 / 40,000 (1.5 %), forecast 3,000 this cycle"
    assert usage.forecast == usage_report(engine, account, now=now).projected
