"""The reconciliation sweep: catch what webhooks missed, spending few calls.

Tampuuri gives a webhook bundle up after 5 failed deliveries, and some changes fire no
webhook at all (a deleted notice, a changed link), so a periodic sweep must find drift:

1. one `Limit=1` probe per account-wide list the account syncs (cost centres, links,
   notices; leases and inspections for the accounts opting in) due tonight by its
   profile (`profiles/cadence.py`; every night by default): the API's `Total` against
   the warehouse's active rows; a difference means rows were added or deleted unseen;
2. the change-since incremental of the lists that declare one: it catches updates (which
   do not move `Total`) and rows added whose webhook was lost, so what drift remains
   after it is deletions. A list without a change-since filter is re-read in full once
   its periodic read is due (its last full read is older than the account's
   `list_rescan_period_days`): the link list carries the parties, whose lost updates
   nothing else would catch;
3. a list still drifted is, by the account's `on_drift`: searched ("locate": for a list
   the catalogue marks `ordered_by_id`, `drift.locate_drift` reads its end and finds the
   deleted rows by bisection, a few calls; only what that cannot account for is re-read
   in full), or left to its periodic full read ("wait": reported as deferred until then;
   the frugal profile's way of not paying a whole link list for a deleted link);
4. fan-out lists (objects; maintenance tasks for the accounts opting in: no change-since
   filter): a budget-shaped share of the stalest cost centres of each
   (`budget.shaping.choose_scopes`, by `ops.sync_state.last_full_scan_at`; `sweep_scopes`),
   the allowance spent in priority order.

Which lists and fan-outs these are comes from the declarations (`declared.probed_lists`,
`declared.fan_out_assets`) of the account's synced assets.

Re-scans go through `run_sync` (same loader, history, deletion confirmation, ledger) with
trigger "reconcile".
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from pipelines import event_loop
from pipelines.declarations import load_declarations
from pipelines.profiles.cadence import lists_due
from pipelines.settings import AccountConfig, SyncSettings, load_sync_settings
from pipelines.sync.declared import LazyMap, fan_out_assets
from pipelines.sync.declared import probed_lists as declared_lists
from pipelines.sync.drift import DriftLocation
from pipelines.sync.report import SyncReport
from pipelines.sync.sweep import TRIGGER, Sweep
from pipelines.sync.sweep_scopes import rescanned_recently, stalest_scopes
from pipelines.tampuuri.catalogue import Catalogue, load_catalogue

__all__ = ["PROBED", "TRIGGER", "ReconcileReport", "probed_lists", "reconcile_account"]


def probed_lists(account: AccountConfig | None = None) -> dict[str, str]:
    """The account-wide lists the sweep probes (scanned resource -> the asset re-scanning
    it) for `account` (its opt-ins too), or for every account (None)."""
    assets = account.synced_assets() if account else load_declarations().synced_assets()
    return declared_lists(assets)


# Every account's probed lists (`probed_lists()`), read when used.
PROBED: Mapping[str, str] = LazyMap(probed_lists)


@dataclass
class ReconcileReport:
    """What one account's sweep found and did.

    Attributes:
        totals: per probed resource, (API Total, active warehouse rows).
        drifted: resources whose counts differed.
        deferred: drifted resources left to their periodic full read (`on_drift: wait`).
        rescanned: resources whose list was re-read in full (periodic read due, or drift
            a search could not settle).
        deferred_reason: the budget guard's reason when the whole sweep was deferred
            before its first call.
        guard_notes: the guard's reasons for searches it deferred (the resources are in
            `deferred`); re-scans carry theirs in their own reports.
        located: drifted resources searched instead of re-read (`drift.locate_drift`),
            with what the search found; those not settled were re-read in full.
        incremental: resources synced with their change-since filter.
        cost_centres: the cost centres re-scanned by any fan-out (the objects').
        scopes: per fan-out asset, the cost centres it re-scanned.
        calls: every call of the sweep (probes, scans, confirmations, retries).
        reports: the sync reports of the re-scans.
    """

    account: str
    run_id: str
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)
    drifted: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    rescanned: list[str] = field(default_factory=list)
    deferred_reason: str | None = None
    guard_notes: list[str] = field(default_factory=list)
    located: dict[str, DriftLocation] = field(default_factory=dict)
    incremental: list[str] = field(default_factory=list)
    cost_centres: list[int] = field(default_factory=list)
    scopes: dict[str, list[int]] = field(default_factory=dict)
    calls: int = 0
    reports: list[SyncReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.deferred_reason is None and all(r.ok for r in self.reports)


def reconcile_account(
    engine: Engine,
    account: AccountConfig,
    *,
    catalogue: Catalogue | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    allowance: int | None = None,
    settings: SyncSettings | None = None,
    run_id: str | None = None,
    now: datetime | None = None,
) -> ReconcileReport:
    """Probe, run the incrementals, settle what drifted, re-read what is due (module doc).

    Args:
        engine: the warehouse.
        account: the account to sweep.
        catalogue: the route catalogue (config/routes.yaml by default).
        transport: httpx transport (tests: ASGITransport over the simulator).
        environ: where credentials are read from.
        allowance: calls the sweep may spend on fan-out scopes beyond their coverage
            floors (`shaping.nightly_share`), spent by the fan-outs in priority order;
            None: only the floors.
        settings: sync tunables.
        run_id: recorded on call records, runs and history.
        now: the clock (stalest-first choice, list re-scan periods).
    """
    sweep = Sweep(
        engine=engine,
        account=account,
        catalogue=catalogue or load_catalogue(),
        settings=settings or load_sync_settings(),
        transport=transport,
        environ=environ,
        report=ReconcileReport(
            account=account.name, run_id=run_id or f"reconcile-{uuid.uuid4().hex[:12]}"
        ),
    )
    report = sweep.report
    clock = now or datetime.now(UTC)
    # Each list on its profile's cadence (every night unless the profile says otherwise).
    lists = probed_lists(account)
    probed = lists_due(account, lists, clock)
    if not account.scope and probed:
        # A scoped warehouse holds a part of what the API's Totals count: probes cannot
        # detect its drift; change-since and the object share keep it fresh.
        report.deferred_reason = sweep.admit(len(probed), "reconcile_probes", clock)
        if report.deferred_reason:
            return report
        report.totals = event_loop.run(sweep.probe(probed))
    report.calls = len(report.totals) + len(sweep.refused)
    report.drifted = [r for r, (api, ours) in report.totals.items() if api != ours]
    # Nightly sweeps start at about the same time: half a day of slack keeps a 1-day
    # period from skipping every other night.
    fresh_after = clock - timedelta(days=account.budget.list_rescan_period_days, hours=-12)
    recent = rescanned_recently(engine, account, list(report.totals), fresh_after)
    report.rescanned = [
        r  # lists without change-since: their periodic full read is due
        for r in report.totals
        if r not in recent and sweep.catalogue.resources[r].change_since is None
    ] + [r for r in sweep.refused if sweep.catalogue.resources[r].change_since is None]
    report.incremental = [
        r
        for r in probed
        if r not in report.rescanned and sweep.catalogue.resources[r].change_since is not None
    ]
    if report.incremental:
        # First: they catch updates, and rows added whose webhook was lost (which also
        # move Total), so what drift remains after them is deletions.
        sweep.sync(tuple(lists[r] for r in report.incremental), full=False)
    for resource in [r for r in report.drifted if r not in report.rescanned]:
        if resource in report.incremental and not sweep.still_drifted(resource):
            continue
        if account.budget.on_drift == "wait":
            # Left to the list's periodic full read, done tonight if it is due.
            (report.deferred if resource in recent else report.rescanned).append(resource)
        elif sweep.catalogue.resources[resource].ordered_by_id:
            # A search is only made when it costs less than reading the list: fits or not
            # by the list's pages.
            pages = max(1, -(-report.totals[resource][1] // sweep.catalogue.max_page_size))
            refusal = sweep.admit(pages, f"reconcile_search_{resource}", clock)
            if refusal:
                report.deferred.append(resource)
                report.guard_notes.append(refusal)
                continue
            located = report.located[resource] = event_loop.run(sweep.locate(resource))
            report.calls += located.calls
            if not located.settled:
                report.rescanned.append(resource)
        else:
            report.rescanned.append(resource)
    if report.rescanned:
        sweep.sync(tuple(lists[r] for r in report.rescanned), full=True)
    left = allowance or 0
    for asset in fan_out_assets(account.synced_assets()):
        chosen, spent = stalest_scopes(
            engine, account, asset, allowance=left, now=clock, run_id=report.run_id
        )
        left = max(0, left - spent)
        report.scopes[asset] = chosen
        report.cost_centres = sorted({*report.cost_centres, *chosen})
        if chosen:
            sweep.sync((asset,), full=True, cost_centres=tuple(chosen))
    return report
