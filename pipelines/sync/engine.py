"""A sync run: the resources of one account pulled from Tampuuri into the warehouse.

`run_sync` is the one entry point the CLI, Dagster assets, reconciliation and benchmarks
call. It knows no Dagster. Before any call the budget guard admits, trims or defers the
run (`admission`); resources then run in dependency order (cost centres before the
objects listed under them), each under its run lock (`resource_run`). Every request is
written to the call ledger (`ops.api_calls`), retries and failures too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine

from pipelines import event_loop
from pipelines.budget.guard import Priority
from pipelines.settings import AccountConfig, SyncSettings, load_sync_settings
from pipelines.sync.admission import admit
from pipelines.sync.api_session import api_session
from pipelines.sync.report import ProgressListener, SilentProgress, SyncReport
from pipelines.sync.resource_run import (
    RunContext,
    RunLabel,
    SyncAborted,
    record_not_run,
    sync_resource,
)
from pipelines.sync.scans import ASSET_RESOURCES
from pipelines.tampuuri.catalogue import Catalogue, load_catalogue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncRequest:
    """What to sync: one account, some resources, incremental or full."""

    account: AccountConfig
    resources: Sequence[str] = ASSET_RESOURCES
    full: bool = False
    trigger: str = "manual"
    run_id: str | None = None
    # Budget priority: webhook > incremental > reconcile > full. None: from `full`.
    priority: Priority | None = None
    # Only these cost centres' objects (budget-shaped re-scans, trimmed runs).
    cost_centres: tuple[int, ...] | None = None
    enforce_budget: bool = True

    @property
    def budget_priority(self) -> Priority:
        return self.priority or ("full" if self.full else "incremental")


def run_sync(
    engine: Engine,
    request: SyncRequest,
    *,
    catalogue: Catalogue | None = None,
    settings: SyncSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    progress: ProgressListener | None = None,
) -> SyncReport:
    """Run one account's sync and report what happened.

    API failures do not raise: they are in the report (and `ops.sync_runs`), and
    `report.ok` says whether all went well. A broken configuration raises `ConfigError`;
    a lost warehouse raises SQLAlchemy's `DBAPIError` (committed scopes stay committed).
    """
    unknown = [r for r in request.resources if r not in ASSET_RESOURCES]
    if unknown:
        raise ValueError(f"unknown resource(s) {unknown}; known: {list(ASSET_RESOURCES)}")
    return event_loop.run(
        _run(
            engine,
            request,
            catalogue=catalogue or load_catalogue(),
            settings=settings or load_sync_settings(),
            transport=transport,
            environ=environ,
            progress=progress or SilentProgress(),
        )
    )


async def _run(
    engine: Engine,
    request: SyncRequest,
    *,
    catalogue: Catalogue,
    settings: SyncSettings,
    transport: httpx.AsyncBaseTransport | None,
    environ: Mapping[str, str] | None,
    progress: ProgressListener,
) -> SyncReport:
    account = request.account
    run_id = request.run_id or f"run-{uuid.uuid4().hex[:12]}"
    label = RunLabel(account, run_id, request.trigger)
    report = SyncReport(run_id=run_id, account=account.name, trigger=request.trigger)
    started = time.monotonic()
    account.resolve_credentials(environ)  # a missing secret fails before anything is written
    retry_cap = settings.retry_cap_per_run
    if request.enforce_budget:
        with engine.begin() as conn:
            admission = admit(
                conn,
                catalogue,
                account,
                resources=tuple(request.resources),
                full=request.full,
                priority=request.budget_priority,
                now=datetime.now(UTC),
            )
        if not admission.run:
            report.deferred_reason = admission.reason
            report.resources = [
                record_not_run(engine, label, r, admission.reason, "deferred")
                for r in request.resources
            ]
            log.warning("account %s: sync deferred: %s", account.name, admission.reason)
            return report
        if admission.full != request.full or admission.cost_centres is not None:
            log.warning("account %s: sync trimmed: %s", account.name, admission.reason)
            report.trimmed_reason = admission.reason
            request = replace(request, full=admission.full, cost_centres=admission.cost_centres)
        # Retries are billed too: they may use what the allowance leaves beyond the plan.
        retry_cap = min(retry_cap, max(0, admission.allowed_calls - admission.planned_calls))
    async with api_session(
        engine,
        account,
        settings=settings,
        trigger=request.trigger,
        run_id=run_id,
        transport=transport,
        environ=environ,
        retry_cap=retry_cap,
    ) as client:
        ctx = RunContext(
            engine=engine,
            client=client,
            catalogue=catalogue,
            settings=settings,
            account=account,
            run_id=run_id,
            trigger=request.trigger,
            full=request.full,
            cost_centres=request.cost_centres,
            progress=progress,
        )
        ordered = [r for r in ASSET_RESOURCES if r in request.resources]
        stages = _stages(ordered, scoped=account.scope is not None)
        for position, stage in enumerate(stages):
            results = await asyncio.gather(
                *(sync_resource(ctx, resource) for resource in stage), return_exceptions=True
            )
            aborted: list[SyncAborted] = []
            for result in results:
                if isinstance(result, SyncAborted):
                    aborted.append(result)
                    report.resources.append(result.report)
                elif isinstance(result, BaseException):
                    raise result  # e.g. the warehouse is gone: the caller reports it
                else:
                    report.resources.append(result)
            if aborted:
                reason = aborted[0].report.error or "the run was aborted"
                report.resources.extend(
                    record_not_run(engine, label, later, reason)
                    for later_stage in stages[position + 1 :]
                    for later in later_stage
                )
                break
    report.calls = client.calls
    report.retries = client.retries
    report.seconds = time.monotonic() - started
    return report


def _stages(resources: list[str], *, scoped: bool) -> list[list[str]]:
    """Resources run stage by stage; the resources of one stage side by side.

    Cost centres come first: the object scans fan out over them. After that objects,
    links and notices touch different tables and routes and share only the client (its
    concurrency limit) and the run's retry cap, so they run side by side: an account's
    first load then overlaps the link list's single transaction with the object scans.
    A scoped account's link scan reads the objects just synced, so it keeps to one
    resource at a time.
    """
    if scoped:
        return [[r] for r in resources]
    first = [r for r in resources if r == "kustannuspaikat"]
    rest = [r for r in resources if r != "kustannuspaikat"]
    return [stage for stage in (first, rest) if stage]
