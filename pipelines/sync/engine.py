"""A sync run: the resources of one account pulled from Tampuuri into the warehouse.

`run_sync` is the one entry point the CLI, Dagster assets, reconciliation and benchmarks
call. It knows no Dagster. Before any call the budget guard admits, trims or defers the
run (`admission`); resources then run in dependency order (cost centres before the
objects listed under them, the others side by side), each under its run lock
(`resource_run`). Every request is written to the call ledger (`ops.api_calls`), retries
and failures too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import combinations

import httpx
from sqlalchemy import Engine

from pipelines import event_loop
from pipelines.budget.guard import Priority
from pipelines.settings import AccountConfig, ConfigError, SyncSettings, load_sync_settings
from pipelines.sync.admission import Admission, admit
from pipelines.sync.api_session import api_session
from pipelines.sync.load_sessions import all_settled
from pipelines.sync.report import ProgressListener, ResourceReport, SilentProgress, SyncReport
from pipelines.sync.resource_run import RunContext, SyncAborted, not_run, sync_resource
from pipelines.sync.run_finish import record_not_run
from pipelines.sync.scans import ASSET_RESOURCES
from pipelines.tampuuri.catalogue import Catalogue, load_catalogue
from pipelines.warehouse.engine import pool_capacity
from pipelines.warehouse.run_lock import RunLocks

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
    report = SyncReport(run_id=run_id, account=account.name, trigger=request.trigger)
    started = time.monotonic()
    account.resolve_credentials(environ)  # a missing secret fails before anything is written
    ordered = [r for r in ASSET_RESOURCES if r in request.resources]
    prerequisites = _prerequisites(ordered, catalogue, scoped=account.scope is not None)
    settings = _fit_pool(engine, prerequisites, catalogue, settings, account=account.name)
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
            run_locks=RunLocks(engine),
        )
        report.resources = await _sync_resources(ctx, prerequisites)
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
            resources=tuple(request.resources),
            full=request.full,
            priority=request.budget_priority,
            now=datetime.now(UTC),
        )


def _fit_pool(
    engine: Engine,
    prerequisites: Mapping[str, Sequence[str]],
    catalogue: Catalogue,
    settings: SyncSettings,
    *,
    account: str,
) -> SyncSettings:
    """The run's settings, with fewer fan-out batches at once if the pool cannot hold them.

    A run holds one connection for its run locks, one per scan batch in flight (a fan-out
    resource runs `scope_concurrency` of them) for each resource running, and one for a
    short write beside them (its call ledger, its run rows). A smaller pool would make the
    run wait on itself until the pool times out, so before any call the run lowers
    scope_concurrency to what the pool holds (logged; it changes no call, only how many
    cost-centre batches commit side by side), and fails when not even one batch fits.

    Raises:
        ConfigError: says how many connections the run needs and the pool allows.
    """
    capacity = pool_capacity(engine)
    if capacity is None:
        return settings
    wanted = max(1, settings.scope_concurrency)
    for batches in range(wanted, 0, -1):
        need = _connections_needed(prerequisites, catalogue, batches)
        if need <= capacity:
            break
    else:
        raise ConfigError(
            f"the warehouse engine's connection pool allows {capacity} connection(s) at"
            f" once (pool_size + max_overflow); this sync needs {need} even with one"
            " fan-out batch at a time: make the pool larger"
        )
    if batches < wanted:
        log.warning(
            "account %s: scope_concurrency %d lowered to %d for this run: the warehouse"
            " pool allows %d connections",
            account,
            wanted,
            batches,
            capacity,
        )
        return replace(settings, scope_concurrency=batches)
    return settings


def _connections_needed(
    prerequisites: Mapping[str, Sequence[str]], catalogue: Catalogue, batches: int
) -> int:
    """Connections a run holds at once with `batches` fan-out batches in flight."""
    held = {r: batches if catalogue.resources[r].fan_out else 1 for r in prerequisites}
    # Resources run side by side unless one waits for the other (directly or not).
    groups = (g for n in range(1, len(held) + 1) for g in combinations(held, n))
    side_by_side = max(
        (
            sum(held[r] for r in group)
            for group in groups
            if not any(_ordered(prerequisites, a, b) for a, b in combinations(group, 2))
        ),
        default=0,
    )
    return 2 + side_by_side  # + run locks + a short write


def _ordered(prerequisites: Mapping[str, Sequence[str]], first: str, other: str) -> bool:
    """Whether one of the two waits for the other (so they never run side by side)."""

    def waits_for(later: str, earlier: str) -> bool:
        return any(p == earlier or waits_for(p, earlier) for p in prerequisites[later])

    return waits_for(first, other) or waits_for(other, first)


def _prerequisites(
    resources: list[str], catalogue: Catalogue, *, scoped: bool
) -> dict[str, tuple[str, ...]]:
    """What each resource of the run waits for before it starts, in the run's order.

    A fan-out resource (objects, listed per cost centre) waits for the resource it fans
    out over; the others start at once: links and notices touch other tables and routes
    than cost centres and objects, and share only the client (its concurrency limit, and
    its first call, which goes alone: `first_answer.py`) and the run's retry cap. A first
    load then overlaps the link list's transaction with the cost centres and the objects.
    A scoped account's link scan reads the objects just synced, so it runs one resource
    at a time.
    """
    if scoped:  # each waits for the one before
        return {r: tuple(resources[:i][-1:]) for i, r in enumerate(resources)}
    return {
        r: tuple(d for d in (catalogue.resources[r].fan_out,) if d in resources) for r in resources
    }


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
