"""What a materialisation says: a sync report (and the month's budget) as Dagster metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipelines.budget.month_usage import MonthUsage
from pipelines.sync.report import ResourceReport

# The UI shows at most this many skipped objects; the count is always exact and
# ops.sync_runs.skipped holds them all.
SKIPPED_SHOWN = 20


def sync_metadata(report: ResourceReport, usage: MonthUsage | None) -> dict[str, Any]:
    """Metadata for one resource's sync: rows, cost, what was skipped, and the budget."""
    counts = report.counts
    metadata: dict[str, Any] = {
        "status": report.status,
        "mode": report.mode,
        "rows_inserted": dg.MetadataValue.int(counts.inserted),
        "rows_updated": dg.MetadataValue.int(counts.updated),
        "rows_unchanged": dg.MetadataValue.int(counts.unchanged),
        "rows_deleted": dg.MetadataValue.int(counts.deleted),
        "rows_stale": dg.MetadataValue.int(counts.stale),
        "pages": dg.MetadataValue.int(report.pages),
        "api_calls": dg.MetadataValue.int(report.calls),
        "retries": dg.MetadataValue.int(report.retries),
        "scopes": f"{report.scopes_done} / {report.scopes_total}",
        "skipped_objects": dg.MetadataValue.int(len(report.skipped)),
        "skipped": dg.MetadataValue.json(report.skipped[:SKIPPED_SHOWN]),
        "new_fields": dg.MetadataValue.json(list(report.new_fields)),
        "duration_s": dg.MetadataValue.float(round(report.seconds, 3)),
    }
    if usage is not None:
        metadata["calls_this_month"] = usage.describe()
        metadata["package"] = usage.package
    if report.error:
        metadata["error"] = dg.MetadataValue.text(report.error)
    if report.status == "partial":
        metadata["warning"] = dg.MetadataValue.text(
            "partial: some scopes failed and kept their previous rows; the next run retries them"
        )
    elif report.status == "incomplete":
        metadata["warning"] = dg.MetadataValue.text(
            "incomplete: a list changed faster than its repair reads could prove the scan"
            " whole; its rows were loaded, none deleted; the next full scan tries again"
        )
    return metadata
