"""The call budget in Dagster: one `call_budget` materialisation per account.

Its metadata is the transaction report (`pipelines.budget.report`), chart first: a
sparkline shown inline (`chart_preview`: markdown under 1,000 characters is shown in
Dagster's metadata tables without a click), then the full chart with the headline figures
one click away (`chart`, "[Show Markdown]"); then calls so far, the forecast, the day the
package runs out, the cheapest package that fits, the settings that shape spending, and
the calls by route, trigger, status and day. Its check `within_package` warns when the
forecast reaches 80 % of the included calls and fails (ERROR) at 100 %.
"""

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sync.scans import ASSET_RESOURCES

if TYPE_CHECKING:
    # pandas and matplotlib load only when the budget runs: every run worker and the code
    # server import this module, and they cost ~1 s of start-up (webhook latency).
    from pipelines.budget.report import UsageReport

GROUP = "budget"
ASSET = "call_budget"
CHECK = "within_package"
# Dagster's UI shows markdown metadata shorter than this inline; longer, behind a click.
INLINE_MARKDOWN_CHARS = 1000


def budget_asset(
    partitions: dg.PartitionsDefinition, upstream: Sequence[str] | None = None
) -> dg.AssetsDefinition:
    """The account's call budget, after the sync assets `upstream` (default: every
    declared asset that is not opt-in)."""

    @dg.asset(
        name=ASSET,
        group_name=GROUP,
        partitions_def=partitions,
        deps=list(upstream if upstream is not None else ASSET_RESOURCES),
        check_specs=[dg.AssetCheckSpec(CHECK, asset=ASSET)],
        description="API calls this billing cycle against the account's package "
        "(ops.api_calls), projected to the cycle's end.",
    )
    def call_budget(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        tampuuri: TampuuriResource,
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        from pipelines.budget.report import usage_report
        from pipelines.profiles.adapt import current_profiles
        from pipelines.profiles.describe import profile_metadata

        account = tampuuri.account(context.partition_key, credentials=False)
        now = datetime.now(UTC)
        report = usage_report(warehouse.engine, account, now=now)
        with warehouse.engine.connect() as conn:  # the profile in force and its adjustment
            [applied] = current_profiles(conn, [account], now=now).values()
        metadata = budget_metadata(report)
        for key, value in profile_metadata(applied).items():
            metadata[key] = dg.MetadataValue.text(value)
        return dg.MaterializeResult(metadata=metadata, check_results=[within_package(report)])

    return call_budget


def _png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _markdown_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(tuple("---" for _ in header)), *map(line, rows)])


def budget_metadata(report: "UsageReport") -> dict[str, dg.MetadataValue]:
    """The chart first (a sparkline inline, the full chart one click away), then the figures."""
    from pipelines.budget.render import chart_png, chart_thumbnail_png
    from pipelines.budget.summary import summary_rows

    summary = summary_rows(report)
    preview = _png_markdown(chart_thumbnail_png(report), "cumulative calls, forecast, package")
    chart = _png_markdown(chart_png(report), "calls per day")
    headline = dict(summary)
    settings = [(s.name, str(s.value), s.meaning) for s in report.settings]
    figures = report.to_dict()
    metadata: dict[str, dg.MetadataValue] = {}
    if len(preview) < INLINE_MARKDOWN_CHARS:
        metadata["chart_preview"] = dg.MetadataValue.md(preview)
    return metadata | {
        "chart": dg.MetadataValue.md(
            chart + "\n\n" + _markdown_table(("figure", "value"), summary)
        ),
        "package": dg.MetadataValue.text(report.package.label),
        "used_calls": dg.MetadataValue.int(report.used),
        "projected_calls": dg.MetadataValue.int(report.projected),
        "level": dg.MetadataValue.text(report.level),
        "package_runs_out": dg.MetadataValue.text(headline["package runs out"]),
        "cheapest_package_that_fits": dg.MetadataValue.text(headline["cheapest package that fits"]),
        "cheapest_package": dg.MetadataValue.text(
            report.cheapest.name if report.cheapest else "none"
        ),
        "forecast_method": dg.MetadataValue.text(headline["forecast method"]),
        "spending_settings": dg.MetadataValue.md(
            _markdown_table(("setting", "value", "effect"), settings)
        ),
        "included_calls": dg.MetadataValue.int(report.package.included_calls),
        "allowance": dg.MetadataValue.int(report.allowance),
        "failed_calls": dg.MetadataValue.int(report.failed_calls),
        "cost_so_far_eur": dg.MetadataValue.float(float(report.cost_so_far_eur)),
        "projected_cost_eur": dg.MetadataValue.float(float(report.projected_cost_eur)),
        "by_route": dg.MetadataValue.json(figures["by_route"]),
        "by_trigger": dg.MetadataValue.json(figures["by_trigger"]),
        "by_status": dg.MetadataValue.json(figures["by_status"]),
        "by_day": dg.MetadataValue.json(figures["by_day"]),
    }


def within_package(report: "UsageReport") -> dg.AssetCheckResult:
    """Warn at 80 % of the included calls projected, fail at 100 %."""
    share = report.projected / report.package.included_calls if report.package.included_calls else 1
    description = (
        f"{report.account}: {report.used:,} calls used, {report.projected:,} projected of "
        f"{report.package.included_calls:,} included ({share:.0%})"
    )
    return dg.AssetCheckResult(
        check_name=CHECK,
        passed=report.level == "ok",
        severity=dg.AssetCheckSeverity.ERROR
        if report.level == "over"
        else dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"projected_share": dg.MetadataValue.float(round(share, 4))},
    )
