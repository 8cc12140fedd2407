"""Targeted refresh: re-read exactly the rows webhook events named, as cheaply as possible.

A notification carries only an id; the data comes from the API, and every call is billed.
Per (resource, action) target the resource's declaration says how (`refresh: {one,
many}`, see `refresh_plan.method_for` and `refresh_strategies`): in the built-ins, notices
(and the opt-in leases and inspections) take one detail call for one id and ONE
change-since scan for several; cost centres a change-since scan (their detail route
answers another shape); objects one complete listing of their cost centre where its pages
are no more than the objects to refresh in it, else detail calls (`refresh_scopes`);
parties the batch route; new links one read of the list's end (else one filtered scan per
object).

Every write goes through `ScopeLoad`, the nightly sync's loader: same history, same
freshness guard (an older `Muokattu` never overwrites a newer row, so an event that
arrives late cannot roll a row back), child tables rewritten with their parents. Targeted
scans never move the nightly cursors or totals (`ScopeScan.record_state=False`), except a
complete listing of a cost centre's objects: it is the nightly scan of that cost centre
and is recorded as one (cursor, Total, last full scan), so the sweep need not repeat it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import Engine

from pipelines.declarations import load_declarations
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import RetryBudgetExceeded, TampuuriError
from pipelines.warehouse.loader import LoadCounts
from pipelines.webhooks import refresh_strategies as strategies
from pipelines.webhooks.refresh_job import RefreshJob
from pipelines.webhooks.refresh_outcome import RefreshHints, RefreshOutcome, TargetOutcome
from pipelines.webhooks.refresh_plan import TargetKey, expected_calls, method_for, target_order
from pipelines.webhooks.refresh_scopes import scope_plan
from pipelines.webhooks.refresh_store import RefreshStore

DEFAULT_OVERLAP = timedelta(minutes=10)
__all__ = [
    "RefreshHints",
    "RefreshOutcome",
    "TargetOutcome",
    "expected_calls",
    "planned_calls",
    "refresh_targets",
]


def planned_calls(
    engine: Engine,
    catalogue: Catalogue,
    account: str,
    targets: Mapping[TargetKey, Sequence[int]],
    hints: RefreshHints | None = None,
) -> int:
    """`expected_calls` with the fan-out targets planned as `refresh_targets` will read
    them (`refresh_scopes.scope_plan`: their cost centres' pages from the warehouse;
    blocking). Exact when no listing's Total moved and no call is retried."""
    store = RefreshStore(engine, account, run_id="plan")
    declared_all = load_declarations().resources
    scope_calls: dict[TargetKey, int] = {}
    for (resource, action), ids in targets.items():
        declared, routes = declared_all.get(resource), catalogue.resources.get(resource)
        wanted = sorted(set(ids))
        if declared is None or routes is None or not wanted:
            continue
        if method_for(declared, action, len(wanted)) == "scope_scan":
            plan = scope_plan(
                store, hints or RefreshHints(), declared, routes, action, wanted,
                catalogue.max_page_size,
            )  # fmt: skip
            scope_calls[(resource, action)] = plan.calls
    return expected_calls(catalogue, targets, scope_calls=scope_calls)


async def refresh_targets(
    client: TampuuriClient,
    engine: Engine,
    catalogue: Catalogue,
    account: str,
    targets: Mapping[TargetKey, Sequence[int]],
    *,
    run_id: str,
    hints: RefreshHints | None = None,
    overlap: timedelta = DEFAULT_OVERLAP,
    page_concurrency: int = 4,
    max_passes: int = 3,
) -> RefreshOutcome:
    """Refresh the rows named by (resource, action) -> ids for one account.

    Never raises for API failures: a target that fails lists its ids in `failed` with the
    error (free of secrets), and its writes are rolled back; other targets go on.
    A spent retry budget or an authentication error fails every remaining target.

    Args:
        client: an open client of the account (its ledger records every call).
        engine: the warehouse.
        catalogue: the route catalogue.
        account: the account label (warehouse name).
        targets: (resource, action) -> ids; action is refresh, delete or refresh_scope.
        run_id: recorded on the history versions written.
        hints: event timestamps and cost centres (see `RefreshHints`).
        overlap: change-since scans re-read this much before the oldest event.
        page_concurrency: pages of one listing in flight at once.
        max_passes: passes of a listing whose Total drifts.
    """
    job = RefreshJob(
        client=client,
        engine=engine,
        catalogue=catalogue,
        account=account,
        run_id=run_id,
        hints=hints or RefreshHints(),
        overlap=overlap,
        page_concurrency=page_concurrency,
        max_passes=max_passes,
        store=RefreshStore(engine, account, run_id),
    )
    outcome = RefreshOutcome(account=account)
    fatal: str | None = None
    for (resource, action), ids in sorted(targets.items(), key=target_order):
        target = TargetOutcome(resource=resource, action=action)
        outcome.targets.append(target)
        wanted = sorted(set(ids))
        if fatal is not None:
            target.failed, target.error = wanted, fatal
            continue
        before = client.calls
        try:
            await _run(job, target, wanted)
        except (RetryBudgetExceeded, TampuuriError, OSError) as exc:
            target.failed = sorted(set(wanted) - set(target.skipped))
            target.done = []
            target.counts = LoadCounts()
            target.error = str(exc) or type(exc).__name__
            if isinstance(exc, RetryBudgetExceeded) or getattr(exc, "status", None) == 401:
                fatal = target.error
        finally:
            target.calls = client.calls - before
    return outcome


async def _run(job: RefreshJob, target: TargetOutcome, ids: list[int]) -> None:
    declared = load_declarations()[target.resource]
    routes = job.catalogue.resources[target.resource]
    method = method_for(declared, target.action, len(ids))
    if method == "scope":
        await strategies.scope(job, target, declared, routes, ids)
    elif method == "batch":
        await strategies.batch(job, target, routes, ids)
    elif method == "scope_scan":
        await strategies.scope_scan(job, target, declared, routes, ids)
    elif method == "change_since_scan":
        await strategies.change_since(job, target, declared, routes, ids)
    else:
        await strategies.details(job, target, routes, ids)
