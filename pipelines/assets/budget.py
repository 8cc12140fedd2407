"""The call budget in Dagster: one `call_budget` materialisation per account.

Its metadata is the transaction report (`pipelines.budget.report`): calls this cycle by
route, trigger and status, failed calls, projected month-end usage and cost, the cheapest
package for that usage, and the chart of calls per day against the package. Its check
`within_package` warns when the projection reaches 80 % of the included calls and fails
(ERROR) at 100 %.
"""

import base64
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
CHECK = "within_package"


def budget_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="call_budget",
        group_name=GROUP,
        partitions_def=partitions,
        deps=list(ASSET_RESOURCES),
        check_specs=[dg.AssetCheckSpec(CHECK, asset="call_budget")],
        description="API calls this billing cycle against the account's package "
        "(ops.api_calls), projected to the cycle's end.",
    )
    def call_budget(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        tampuuri: TampuuriResource,
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        from pipelines.budget.report import usage_report

        account = tampuuri.account(context.partition_key, credentials=False)
        report = usage_report(warehouse.engine, account, now=datetime.now(UTC))
        return dg.MaterializeResult(
            metadata=budget_metadata(report), check_results=[within_package(report)]
        )

    return call_budget


def budget_metadata(report: "UsageReport") -> dict[str, dg.MetadataValue]:
    """The figures and the chart, as Dagster metadata."""
    from pipelines.budget.render import chart_png

    chart = base64.b64encode(chart_png(report)).decode("ascii")
    figures = report.to_dict()
    return {
        "package": dg.MetadataValue.text(report.package.label),
        "used_calls": dg.MetadataValue.int(report.used),
        "included_calls": dg.MetadataValue.int(report.package.included_calls),
        "allowance": dg.MetadataValue.int(report.allowance),
        "failed_calls": dg.MetadataValue.int(report.failed_calls),
        "projected_calls": dg.MetadataValue.int(report.projected),
        "level": dg.MetadataValue.text(report.level),
        "cost_so_far_eur": dg.MetadataValue.float(float(report.cost_so_far_eur)),
        "projected_cost_eur": dg.MetadataValue.float(float(report.projected_cost_eur)),
        "cheapest_package": dg.MetadataValue.text(report.cheapest),
        "by_route": dg.MetadataValue.json(figures["by_route"]),
        "by_trigger": dg.MetadataValue.json(figures["by_trigger"]),
        "by_status": dg.MetadataValue.json(figures["by_status"]),
        "by_day": dg.MetadataValue.json(figures["by_day"]),
        "chart": dg.MetadataValue.md(f"![calls per day](data:image/png;base64,{chart})"),
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
