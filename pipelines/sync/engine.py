"""A sync run: the resources of one account pulled from Tampuuri into the warehouse.

`run_sync` is the one entry point the CLI, Dagster assets and benchmarks call. It knows no
Dagster. Resources run in dependency order (cost centres before the objects listed under
them); the scopes of a fan-out resource run concurrently, each in its own transaction.
Every request is written to the call ledger (`ops.api_calls`), retries and failures too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from pipelines.budget.guard import Priority
from pipelines.settings import AccountConfig, SyncSettings, load_sync_settings
from pipelines.sync.admission import admit
from pipelines.sync.report import ProgressListener, ResourceReport, SilentProgress, SyncReport
from pipelines.sync.scans import ASSET_RESOURCES, plan_scans
from pipelines.sync.scope_scan import ScopeOutcome, ScopeScan, run_scope_scan
from pipelines.tampuuri.catalogue import Catalogue, load_catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import (
    RetryBudgetExceeded,
    TampuuriAuthError,
    TampuuriError,
    TampuuriForbidden,
    TampuuriNotFound,
)
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.retry import RetryBudget, RetryPolicy
from pipelines.tampuuri.sanitize import install_redaction
from pipelines.warehouse import state
from pipelines.warehouse.ledger_sink import LedgerSink
from pipelines.warehouse.loader import LoadCounts
from pipelines.warehouse.run_lock import ResourceBusy, exclusive_run

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


class SyncAborted(Exception):
    """The run cannot go on (wrong credentials, retry cap spent): later resources are not run."""


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
    """Run one account's sync and report what happened. Never raises for API failures:
    they are in the report (and `ops.sync_runs`); `report.ok` says whether all went well."""
    unknown = [r for r in request.resources if r not in ASSET_RESOURCES]
    if unknown:
        raise ValueError(f"unknown resource(s) {unknown}; known: {list(ASSET_RESOURCES)}")
    return asyncio.run(
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
    report = SyncReport(run_id=run_id, account=account.name, trigger=request.trigger)
    started = time.monotonic()
    credentials = account.resolve_credentials(environ)
    install_redaction(credentials.secrets())
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
            for resource in request.resources:
                report.resources.append(
                    _record_not_run(engine, request, run_id, resource, admission.reason, "deferred")
                )
            log.warning("account %s: sync deferred: %s", account.name, admission.reason)
            return report
        if admission.full != request.full or admission.cost_centres is not None:
            log.warning("account %s: sync trimmed: %s", account.name, admission.reason)
            report.trimmed_reason = admission.reason
            request = replace(request, full=admission.full, cost_centres=admission.cost_centres)
        # Retries are billed too: they may use what the allowance leaves beyond the plan.
        retry_cap = min(retry_cap, max(0, admission.allowed_calls - admission.planned_calls))
    ledger = CallLedger(LedgerSink(engine))
    client = TampuuriClient(
        account.name,
        account.base_url,
        credentials,
        transport=transport,
        ledger=ledger,
        trigger=request.trigger,
        run_id=run_id,
        timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
        max_concurrency=max(settings.page_concurrency, settings.scope_concurrency),
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_initial_s=settings.backoff_initial_s,
            backoff_max_s=settings.backoff_max_s,
        ),
        retry_budget=RetryBudget(retry_cap),
    )
    try:
        async with client:
            ordered = [r for r in ASSET_RESOURCES if r in request.resources]
            for position, resource in enumerate(ordered):
                try:
                    resource_report = await _sync_resource(
                        resource,
                        engine=engine,
                        client=client,
                        catalogue=catalogue,
                        settings=settings,
                        request=request,
                        run_id=run_id,
                        progress=progress,
                    )
                except SyncAborted as exc:
                    report.resources.append(exc.args[0])
                    for skipped in ordered[position + 1 :]:
                        report.resources.append(
                            _record_not_run(
                                engine, request, run_id, skipped, str(exc.args[0].error)
                            )
                        )
                    break
                report.resources.append(resource_report)
    finally:
        await asyncio.to_thread(ledger.flush)
    report.calls = client.calls
    report.retries = client.retries
    report.seconds = time.monotonic() - started
    return report


async def _sync_resource(
    resource: str,
    *,
    engine: Engine,
    client: TampuuriClient,
    catalogue: Catalogue,
    settings: SyncSettings,
    request: SyncRequest,
    run_id: str,
    progress: ProgressListener,
) -> ResourceReport:
    """Sync one resource while holding its (account, resource) run lock."""
    try:
        with exclusive_run(engine, request.account.name, resource) as abandoned:
            if abandoned:
                log.warning(
                    "account %s %s: %d earlier run(s) had died mid-run; marked abandoned",
                    request.account.name,
                    resource,
                    abandoned,
                )
            return await _sync_locked_resource(
                resource,
                engine=engine,
                client=client,
                catalogue=catalogue,
                settings=settings,
                request=request,
                run_id=run_id,
                progress=progress,
            )
    except ResourceBusy as exc:
        return _record_not_run(engine, request, run_id, resource, str(exc), "skipped")


async def _sync_locked_resource(
    resource: str,
    *,
    engine: Engine,
    client: TampuuriClient,
    catalogue: Catalogue,
    settings: SyncSettings,
    request: SyncRequest,
    run_id: str,
    progress: ProgressListener,
) -> ResourceReport:
    account = request.account
    started = time.monotonic()
    calls_before, retries_before = client.calls, client.retries
    with engine.connect() as conn:
        scans = plan_scans(
            conn,
            resource,
            catalogue=catalogue,
            account=account,
            full=request.full,
            overlap=timedelta(minutes=settings.overlap_minutes),
            cost_centres=request.cost_centres,
        )
    mode = "incremental" if scans and all(s.filters for s in scans) else "full"
    report = ResourceReport(resource=resource, mode=mode, scopes_total=len(scans))
    _write_run_start(engine, request, run_id, resource, mode)
    progress.resource_started(resource, len(scans))
    abort: SyncAborted | None = None

    async def one(scan: ScopeScan) -> ScopeOutcome | BaseException:
        try:
            outcome = await run_scope_scan(
                scan,
                client=client,
                catalogue=catalogue,
                engine=engine,
                account=account.name,
                run_id=run_id,
                page_concurrency=settings.page_concurrency,
                max_passes=settings.max_drift_passes,
                on_page=lambda rows: progress.page_loaded(resource, rows),
            )
        except TampuuriForbidden:
            # No object right to this scope (e.g. a cost centre): skip it, keep its rows.
            outcome = ScopeOutcome(forbidden=True)
            outcome.skipped.append(
                {
                    "resource": resource,
                    "scope": dict(scan.path_params),
                    "reason": "403 object right",
                }
            )
        except TampuuriNotFound:
            # The scope itself is gone (a deleted cost centre); nothing to load under it now.
            outcome = ScopeOutcome(complete=True)
        except (TampuuriError, RetryBudgetExceeded, OSError) as exc:
            return exc
        finally:
            progress.scope_finished(resource)
        return outcome

    semaphore = asyncio.Semaphore(max(1, settings.scope_concurrency))

    async def bounded(scan: ScopeScan) -> ScopeOutcome | BaseException:
        async with semaphore:
            if abort is not None:
                return abort
            return await one(scan)

    errors: list[str] = []
    for result in await asyncio.gather(*(bounded(s) for s in scans)):
        if isinstance(result, BaseException):
            errors.append(_describe(result))
            if isinstance(result, TampuuriAuthError | RetryBudgetExceeded):
                abort = SyncAborted(report)
            continue
        report.counts = report.counts + result.counts
        report.pages += result.pages
        report.skipped.extend(result.skipped)
        report.new_fields = sorted(set(report.new_fields) | result.new_fields)
        report.scopes_done += 0 if result.forbidden else 1
        report.scopes_incomplete += 0 if result.complete or result.forbidden else 1
    report.calls = client.calls - calls_before
    report.retries = client.retries - retries_before
    report.seconds = time.monotonic() - started
    if errors:
        report.error = "; ".join(sorted(set(errors))[:5])
        report.status = "partial" if report.scopes_done else "failed"
    else:
        report.status = "success"
    _write_run_finish(engine, request, run_id, resource, report)
    progress.resource_finished(report)
    log.info(
        "account %s %s %s: %s inserted, %s updated, %s deleted, %s calls",
        account.name,
        resource,
        report.status,
        report.counts.inserted,
        report.counts.updated,
        report.counts.deleted,
        report.calls,
    )
    if abort is not None:
        raise abort
    return report


def _describe(exc: BaseException) -> str:
    """An error message for reports: the error tree's messages carry no secrets."""
    return str(exc) or type(exc).__name__


def _write_run_start(
    engine: Engine, request: SyncRequest, run_id: str, resource: str, mode: str
) -> None:
    with engine.begin() as conn:
        state.start_run(
            conn,
            run_id=run_id,
            account=request.account.name,
            resource=resource,
            trigger=request.trigger,
            mode=mode,
        )


def _write_run_finish(
    engine: Engine, request: SyncRequest, run_id: str, resource: str, report: ResourceReport
) -> None:
    with engine.begin() as conn:
        state.finish_run(
            conn,
            run_id=run_id,
            account=request.account.name,
            resource=resource,
            status=report.status,
            counts=report.counts,
            pages=report.pages,
            calls=report.calls,
            retries=report.retries,
            skipped=report.skipped,
            new_fields=report.new_fields,
            error=report.error,
        )


def _record_not_run(
    engine: Engine,
    request: SyncRequest,
    run_id: str,
    resource: str,
    reason: str,
    status: str = "failed",
) -> ResourceReport:
    report = ResourceReport(
        resource=resource, mode="none", status=status, error=f"not run: {reason}"
    )
    report.counts = LoadCounts()
    _write_run_start(engine, request, run_id, resource, "none")
    _write_run_finish(engine, request, run_id, resource, report)
    return report
