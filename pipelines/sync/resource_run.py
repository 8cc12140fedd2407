"""One resource of a sync run: its scans under the (account, resource) run lock.

An account-wide list is one scan in one transaction. The scopes of a fan-out resource
(objects per cost centre) run concurrently in batches of `scopes_per_transaction`, one
transaction per batch (`scope_scan.run_scope_batch`). A 403 for an object right on a scope
is recorded and skipped; a 403 refusing the route as a whole (the API user's role lacks its
right: `errors.route_refusal`) starts no more scopes and makes the resource `forbidden`, or
`not_licensed` when the account's config lists it there; a 404 on a scope means it is
gone; any other API failure fails its batch only (the resource is then `partial`), except
wrong credentials and a spent retry budget, which stop the whole run. Database calls run
in threads (`asyncio.to_thread`): none blocks the event loop, which the other resources'
scans share.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from pipelines.settings import AccountConfig, SyncSettings
from pipelines.sync.refusals import mark_all_scopes_refused, mark_refused
from pipelines.sync.report import ProgressListener, ResourceReport
from pipelines.sync.run_finish import finish_runs, record_not_run, start_runs
from pipelines.sync.scans import plan_scans
from pipelines.sync.scope_scan import ScopeOutcome, ScopeScan, run_scope_batch
from pipelines.sync.scope_turns import ScopeTurns
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.tampuuri.client import TampuuriClient, tally_calls
from pipelines.tampuuri.errors import (
    RetryBudgetExceeded,
    TampuuriAuthError,
    TampuuriError,
    TampuuriForbidden,
    TampuuriRouteForbidden,
    route_refusal,
)
from pipelines.warehouse.loader import LoadCounts
from pipelines.warehouse.run_lock import ResourceBusy, RunLocks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunContext:
    """What every resource of one run shares."""

    engine: Engine
    client: TampuuriClient
    catalogue: Catalogue
    settings: SyncSettings
    account: AccountConfig
    run_id: str
    trigger: str
    full: bool
    # Per fan-out asset, the only parent rows (cost centres) it lists under; absent: all.
    fan_out_scopes: Mapping[str, tuple[int, ...]]
    progress: ProgressListener
    run_locks: RunLocks  # the resources' run locks, on one connection


class SyncAborted(Exception):
    """The run cannot go on (wrong credentials, retry cap spent): later resources are not run."""

    def __init__(self, report: ResourceReport) -> None:
        super().__init__(report.error)
        self.report = report


async def sync_resource(ctx: RunContext, resource: str) -> ResourceReport:
    """Sync one resource while holding its (account, resource) run lock.

    Raises:
        SyncAborted: the run must stop (the report of this resource is attached).
    """
    locks, account = ctx.run_locks, ctx.account.name
    try:
        abandoned = await asyncio.to_thread(locks.acquire, account, resource)
    except ResourceBusy as exc:
        return await not_run(ctx, resource, str(exc), "skipped")
    try:
        if abandoned:
            log.warning(
                "account %s %s: %d earlier run(s) had died mid-run; marked abandoned",
                account,
                resource,
                abandoned,
            )
        return await _sync_locked(ctx, resource)
    finally:
        await asyncio.to_thread(locks.release, account, resource)


async def _sync_locked(ctx: RunContext, resource: str) -> ResourceReport:
    with tally_calls() as tally:  # resources of one run may share the client side by side
        report, aborted = await _sync_scans(ctx, resource)
    report.calls, report.retries = tally.calls, tally.retries
    await asyncio.to_thread(
        finish_runs, ctx.engine, account=ctx.account.name, run_id=ctx.run_id, reports=[report]
    )
    ctx.progress.resource_finished(report)
    log.info(
        "account %s %s %s: %s inserted, %s updated, %s deleted, %s calls",
        ctx.account.name,
        resource,
        report.status,
        report.counts.inserted,
        report.counts.updated,
        report.counts.deleted,
        report.calls,
    )
    if aborted:
        raise SyncAborted(report)
    return report


async def _sync_scans(ctx: RunContext, resource: str) -> tuple[ResourceReport, bool]:
    """Plan and run one resource's scans; (its report, whether the run must stop)."""
    started = time.monotonic()
    scans = await asyncio.to_thread(_plan, ctx, resource)
    mode = "incremental" if scans and all(s.filters for s in scans) else "full"
    report = ResourceReport(resource=resource, mode=mode, scopes_total=len(scans))
    await asyncio.to_thread(
        start_runs,
        ctx.engine,
        account=ctx.account.name,
        run_id=ctx.run_id,
        trigger=ctx.trigger,
        mode=mode,
        resources=(resource,),
    )
    ctx.progress.resource_started(resource, len(scans))
    stop: list[BaseException] = []
    refused: list[TampuuriRouteForbidden] = []  # the route refused: start no more scopes
    semaphore = asyncio.Semaphore(max(1, ctx.settings.scope_concurrency))

    # The batches' scans share the client's calls in flight, max(page_concurrency,
    # scope_concurrency), the earliest batch first (scope_turns.py).
    turns = ScopeTurns(max(1, ctx.settings.page_concurrency, ctx.settings.scope_concurrency))

    async def bounded(number: int, batch: list[ScopeScan]) -> ScopeOutcome | BaseException | None:
        async with semaphore:
            if stop:  # wrong credentials or no retries left: do not start more scopes
                return stop[0]
            if refused:
                return None
            result = await _scan_batch(ctx, resource, batch, turns, number)
            if isinstance(result, TampuuriAuthError | RetryBudgetExceeded):
                stop.append(result)
            if isinstance(result, TampuuriForbidden):
                # Raised past the scope scans (not an object skip): only a Message naming
                # the role makes it a refusal of the route; else it fails like any error.
                refusal = route_refusal(result, names_object=True)
                if refusal is not None:
                    refused.append(refusal)
                    return None
            return result

    errors: list[str] = []
    scopes_refused = 0  # scopes answering 403 for an object right
    batches = _batches(scans, ctx.settings.scopes_per_transaction)
    for result in await asyncio.gather(*(bounded(n, b) for n, b in enumerate(batches))):
        if result is None:
            continue
        if isinstance(result, BaseException):
            errors.append(str(result) or type(result).__name__)  # no secrets in these
            continue
        report.counts = report.counts + result.counts
        for table, counts in result.tables.items():
            report.tables[table] = report.tables.get(table, LoadCounts()) + counts
        report.pages += result.pages
        report.skipped.extend(result.skipped)
        report.new_fields = sorted(set(report.new_fields) | result.new_fields)
        report.scopes_done += result.scopes - result.scopes_forbidden
        scopes_refused += result.scopes_forbidden
        report.scopes_incomplete += result.scopes_incomplete
    report.seconds = time.monotonic() - started
    if refused:
        mark_refused(ctx.account, report, refused[0])
    elif scans and scopes_refused == len(scans):
        # Nothing was readable: never success, whichever right is missing.
        mark_all_scopes_refused(ctx.account.name, report, scans)
    elif errors:
        report.error = "; ".join(sorted(set(errors))[:5])
        report.status = "partial" if report.scopes_done else "failed"
        report.credentials_refused = any(isinstance(e, TampuuriAuthError) for e in stop)
    elif report.scopes_incomplete:  # never success: a scan that could not be proven whole
        report.status = "incomplete"
        report.error = (
            f"{report.scopes_incomplete} of {report.scopes_total} scans changed faster than"
            " max_drift_passes could repair: their rows were loaded, none were deleted"
        )
    else:
        report.status = "success"
    return report, bool(stop)


def _plan(ctx: RunContext, resource: str) -> list[ScopeScan]:
    with ctx.engine.connect() as conn:
        return plan_scans(
            conn,
            resource,
            catalogue=ctx.catalogue,
            account=ctx.account,
            full=ctx.full,
            overlap=timedelta(minutes=ctx.settings.overlap_minutes),
            cost_centres=ctx.fan_out_scopes.get(resource),
        )


def _batches(scans: list[ScopeScan], size: int) -> list[list[ScopeScan]]:
    """Fan-out scopes share a transaction in batches; an account-wide scan stands alone."""
    if len(scans) <= 1 or scans[0].scope.column is None:
        return [[scan] for scan in scans]
    return [scans[i : i + size] for i in range(0, len(scans), max(1, size))]


async def _scan_batch(
    ctx: RunContext, resource: str, batch: list[ScopeScan], turns: ScopeTurns, number: int
) -> ScopeOutcome | BaseException:
    try:
        return await run_scope_batch(
            batch,
            client=ctx.client,
            catalogue=ctx.catalogue,
            engine=ctx.engine,
            account=ctx.account.name,
            run_id=ctx.run_id,
            page_concurrency=ctx.settings.page_concurrency,
            max_passes=ctx.settings.max_drift_passes,
            on_page=lambda rows: ctx.progress.page_loaded(resource, rows),
            disjoint=batch[0].scope.column is not None,  # a fan-out: cost centres differ
            turns=turns,
            batch_number=number,
        )
    except (TampuuriError, RetryBudgetExceeded, OSError) as exc:
        return exc
    finally:
        for _ in batch:
            ctx.progress.scope_finished(resource)


async def not_run(
    ctx: RunContext, resource: str, reason: str, status: str = "failed"
) -> ResourceReport:
    """`run_finish.record_not_run` for a resource of this run."""
    return await record_not_run(
        ctx.engine,
        account=ctx.account.name,
        run_id=ctx.run_id,
        trigger=ctx.trigger,
        resource=resource,
        reason=reason,
        status=status,
    )
