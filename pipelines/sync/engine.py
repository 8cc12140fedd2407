"""A sync run: the resources of one account pulled from Tampuuri into the warehouse.

`run_sync` is the one entry point the CLI, Dagster assets, reconciliation and benchmarks
call. It knows no Dagster. Before any call the budget guard admits, trims or defers the
run (`admission`); the account's assets (its synced ones, opt-ins included, unless the
request names some) then run in the order of their declared `after` dependencies, each
starting once its prerequisites finish (a fan-out after the assets it fans out over, the
others side by side), each under its run lock (`resource_run`). Every request is written
to the call ledger (`ops.api_calls`), retries and failures too.
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
from pipelines.sync.admission import Admission, admit
from pipelines.sync.api_session import api_session
from pipelines.sync.declared import fan_out_parent, sync_order
from pipelines.sync.load_sessions import all_settled
from pipelines.sync.pool_fit import fit_pool
from pipelines.sync.report import ProgressListener, ResourceReport, SilentProgress, SyncReport
from pipelines.sync.resource_run import RunContext, SyncAborted, not_run, sync_resource
from pipelines.sync.run_finish import record_not_run, record_planned_calls
from pipelines.tampuuri.catalogue import Catalogue, load_catalogue
from pipelines.warehouse.run_lock import RunLocks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncRequest:
    """What to sync: one account, some assets (default: those it syncs), incremental or full."""

    account: AccountConfig
    # Assets; None: the account's synced assets (`AccountConfig.synced_assets`).
    resources: Sequence[str] | None = None
    full: bool = False
    trigger: str = "manual"
    run_id: str | None = None
    # Budget priority: webhook > incremental > reconcile > full. None: from `full`.
    priority: Priority | None = None
    # Only these parent rows (cost centres) for every fan-out asset of the run
    # (budget-shaped re-scans); `fan_out_scopes` per asset (a trimmed run) wins over it.
    cost_centres: tuple[int, ...] | None = None
    enforce_budget: bool = True
    fan_out_scopes: Mapping[str, tuple[int, ...]] | None = None

    def __post_init__(self) -> None:
        if self.resources is None:
            object.__setattr__(self, "resources", self.account.synced_assets())

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
    synced = request.account.synced_assets()
    assert request.resources is not None  # SyncRequest fills in the account's assets
    sync_order(request.resources)  # ValueError: an unknown asset
    not_synced = [r for r in request.resources if r not in synced]
    if not_synced:
        raise ValueError(
            f"account {request.account.name!r} does not sync {not_synced} (opt-in resources"
            f" are synced for the accounts listing them in `resources:`); it syncs {list(synced)}"
        )
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
    report = SyncReport(run_id=run_id, account=account.name, trigger=request.trigger)
    started = time.monotonic()
    account.resolve_credentials(environ)  # a missing secret fails before anything is written
    assert request.resources is not None
    ordered = sync_order(request.resources)
    prerequisites = _prerequisites(ordered, scoped=account.scope is not None)
    settings = fit_pool(engine, prerequisites, settings, account=account.name)
    retry_cap = settings.retry_cap_per_run
    if request.enforce_budget:
        admission = await asyncio.to_thread(_admit, engine, catalogue, request)
        if not admission.run:
            report.deferred_reason = admission.reason
            report.resources = [
                await record_not_run(
                    engine,
                    account=account.name,
                    run_id=run_id,
                    trigger=request.trigger,
                    resource=r,
                    reason=admission.reason,
                    status="deferred",
                )
                for r in request.resources
            ]
            log.warning("account %s: sync deferred: %s", account.name, admission.reason)
            return report
        if admission.full != request.full or admission.fan_out_scopes is not None:
            log.warning("account %s: sync trimmed: %s", account.name, admission.reason)
            report.trimmed_reason = admission.reason
            request = replace(request, full=admission.full, fan_out_scopes=admission.fan_out_scopes)
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
            fan_out_scopes=_fan_out_scopes(request, ordered),
            progress=progress,
            run_locks=RunLocks(engine),
        )
        report.resources = await _sync_resources(ctx, prerequisites)
    if request.enforce_budget:
        await asyncio.to_thread(
            record_planned_calls,
            engine,
            account=account.name,
            run_id=run_id,
            planned=admission.planned_by_resource,
        )
    report.calls = client.calls
    report.retries = client.retries
    report.seconds = time.monotonic() - started
    return report


def _admit(engine: Engine, catalogue: Catalogue, request: SyncRequest) -> Admission:
    with engine.begin() as conn:
        return admit(
            conn,
            catalogue,
            request.account,
            resources=tuple(request.resources or ()),
            full=request.full,
            priority=request.budget_priority,
            now=datetime.now(UTC),
        )


def _fan_out_scopes(request: SyncRequest, assets: list[str]) -> dict[str, tuple[int, ...]]:
    """Per fan-out asset of the run, the only parent rows it lists under (absent: all)."""
    scopes = {}
    for asset in assets:
        if fan_out_parent(asset) is None:
            continue
        only = (request.fan_out_scopes or {}).get(asset, request.cost_centres)
        if only is not None:
            scopes[asset] = only
    return scopes


def _prerequisites(assets: list[str], *, scoped: bool) -> dict[str, tuple[str, ...]]:
    """What each asset of the run waits for before it starts, in the run's order.

    A fan-out asset (objects, listed per cost centre) waits for the asset it fans out
    over; the others start at once: links and notices touch other tables and routes than
    cost centres and objects, and share only the client (its concurrency limit, and its
    first call, which goes alone: `first_answer.py`) and the run's retry cap. A first
    load then overlaps the link list's transaction with the cost centres and the objects.
    A scoped account's scans read the rows just synced (the objects a link or lease
    scope goes `through`), so it runs one asset at a time, in the `after` order.
    """
    if scoped:  # each waits for the one before
        return {r: tuple(assets[:i][-1:]) for i, r in enumerate(assets)}
    return {r: tuple(d for d in (fan_out_parent(r),) if d in assets) for r in assets}


async def _sync_resources(
    ctx: RunContext, prerequisites: Mapping[str, Sequence[str]]
) -> list[ResourceReport]:
    """Sync each resource once its prerequisites are done; reports in the given order.

    A resource that aborts the run (wrong credentials, retry cap spent) leaves those not
    started yet unrun (recorded as such); those running finish on their own. Any other
    exception (e.g. the warehouse is gone) starts nothing more and is raised once every
    resource has stopped.
    """
    finished = {resource: asyncio.Event() for resource in prerequisites}
    reports: dict[str, ResourceReport] = {}
    aborted: list[SyncAborted] = []
    broken: list[BaseException] = []

    async def run(resource: str) -> None:
        try:
            for earlier in prerequisites[resource]:
                await finished[earlier].wait()
            if broken:
                return
            if aborted:
                reason = aborted[0].report.error or "the run was aborted"
                reports[resource] = await not_run(ctx, resource, reason)
                return
            try:
                reports[resource] = await sync_resource(ctx, resource)
            except SyncAborted as exc:
                aborted.append(exc)
                reports[resource] = exc.report
        except BaseException as exc:
            broken.append(exc)
            raise
        finally:
            finished[resource].set()

    await all_settled(run(resource) for resource in prerequisites)
    return [reports[resource] for resource in prerequisites]
