"""A resource run's rows in `ops.sync_runs`: started, and how it finished.

The one place a sync run (`resource_run`), a resource the run did not sync (deferred,
busy, aborted: `record_not_run`) and a targeted webhook refresh
(`pipelines/webhooks/process_record.py`) write their run rows. Each write is its own short
transaction, never the data transaction (`warehouse/state.py`): a scan that rolls back
still leaves its 'failed' row. Blocking: call them through `asyncio.to_thread` on a loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from sqlalchemy import Engine, text

from pipelines.sync.report import ResourceReport
from pipelines.warehouse import state
from pipelines.warehouse.loader import LoadCounts
from pipelines.warehouse.migrations import SQL_DIR

TARGETED = "targeted"


def start_runs(
    engine: Engine,
    *,
    account: str,
    run_id: str,
    trigger: str,
    mode: str,
    resources: Iterable[str],
) -> None:
    """Record the resources' runs as 'running', in one short transaction."""
    with engine.begin() as conn:
        for resource in resources:
            state.start_run(
                conn, run_id=run_id, account=account, resource=resource, trigger=trigger, mode=mode
            )


def finish_runs(
    engine: Engine, *, account: str, run_id: str, reports: Iterable[ResourceReport]
) -> None:
    """Record how each report's run ended (`report.resource` names its row), in one short
    transaction; a row never started is written with trigger and mode 'unknown'."""
    with engine.begin() as conn:
        for report in reports:
            state.finish_run(
                conn,
                run_id=run_id,
                account=account,
                resource=report.resource,
                status=report.status,
                counts=report.counts,
                pages=report.pages,
                calls=report.calls,
                retries=report.retries,
                skipped=report.skipped,
                new_fields=report.new_fields,
                error=report.error,
            )


class Target(Protocol):
    """One refreshed target of a targeted refresh (`webhooks.refresh_outcome.TargetOutcome`)."""

    @property
    def resource(self) -> str: ...

    @property
    def counts(self) -> LoadCounts: ...

    @property
    def calls(self) -> int: ...

    @property
    def skipped(self) -> Sequence[int]: ...

    @property
    def error(self) -> str | None: ...


def targeted_reports(targets: Iterable[Target]) -> list[ResourceReport]:
    """One report per resource of a targeted refresh, by resource name: its targets'
    counts and calls summed, 'failed' with their errors if any target failed, else
    'success'; ids the API user may not read (403) listed as skipped."""
    by_resource: dict[str, list[Target]] = {}
    for target in targets:
        by_resource.setdefault(target.resource, []).append(target)
    reports = []
    for resource, mine in sorted(by_resource.items()):
        counts = LoadCounts()
        for target in mine:
            counts = counts + target.counts
        errors = sorted({t.error for t in mine if t.error})
        reports.append(
            ResourceReport(
                resource=resource,
                mode=TARGETED,
                status="failed" if errors else "success",
                counts=counts,
                calls=sum(t.calls for t in mine),
                skipped=[_skip(resource, i) for t in mine for i in t.skipped],
                error="; ".join(errors) or None,
            )
        )
    return reports


def _skip(resource: str, row_id: int) -> dict[str, object]:
    return {"resource": resource, "id": row_id, "reason": "403"}


def finish_targeted_runs(
    engine: Engine, *, account: str, run_id: str, targets: Iterable[Target]
) -> None:
    """`finish_runs` for a targeted refresh: one row per resource its targets touched."""
    finish_runs(engine, account=account, run_id=run_id, reports=targeted_reports(targets))


async def record_not_run(
    engine: Engine,
    *,
    account: str,
    run_id: str,
    trigger: str,
    resource: str,
    reason: str,
    status: str = "failed",
) -> ResourceReport:
    """A resource a run did not sync (deferred, busy, aborted), recorded as such."""
    report = ResourceReport(
        resource=resource, mode="none", status=status, error=f"not run: {reason}"
    )
    await asyncio.to_thread(
        start_runs,
        engine,
        account=account,
        run_id=run_id,
        trigger=trigger,
        mode="none",
        resources=(resource,),
    )
    await asyncio.to_thread(finish_runs, engine, account=account, run_id=run_id, reports=[report])
    return report


_RECORD_PLANNED = text((SQL_DIR / "sync" / "record_planned_calls.sql").read_text("utf-8"))


def record_planned_calls(
    engine: Engine, *, account: str, run_id: str, planned: Mapping[str, int]
) -> None:
    """The plan's calls on each resource's run row (the `calls_as_planned` check reads it)."""
    if not planned:
        return
    with engine.begin() as conn:
        for resource, calls in planned.items():
            conn.execute(
                _RECORD_PLANNED,
                {"run_id": run_id, "account": account, "resource": resource, "planned": calls},
            )
