"""The reconciliation sweep: catch what webhooks missed, spending few calls.

Tampuuri gives a webhook bundle up after 5 failed deliveries, and some changes fire no
webhook at all (a deleted notice, a changed link), so a periodic sweep must find drift:

1. one `Limit=1` probe per account-wide list (cost centres, links, notices) due tonight
   by the account's profile (`profiles/cadence.py`; every night by default): the API's
   `Total` against the warehouse's active rows; a difference means rows were added or
   deleted unseen;
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
4. objects (`kohteet`, no change-since filter): a budget-shaped share of the stalest cost
   centres (`budget.shaping.choose_scopes`, by `ops.sync_state.last_full_scan_at`).

Re-scans go through `run_sync` (same loader, history, deletion confirmation, ledger) with
trigger "reconcile".
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, TextClause, text

from pipelines import event_loop
from pipelines.budget.shaping import choose_scopes
from pipelines.profiles.cadence import lists_due
from pipelines.settings import AccountConfig, SyncSettings, load_sync_settings
from pipelines.sync.admission import admit_calls
from pipelines.sync.api_session import api_session
from pipelines.sync.drift import DriftLocation, locate_drift
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import SyncReport
from pipelines.sync.targeted_load import load_rows
from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes, load_catalogue
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import TampuuriForbidden
from pipelines.tampuuri.paging import probe_total
from pipelines.warehouse import state
from pipelines.warehouse.tables import TABLES

TRIGGER = "reconcile"
# Catalogue resource probed -> the sync (asset) resource that re-scans it.
PROBED = {"kustannuspaikat": "kustannuspaikat", "osapuoli_yhteydet": "osapuolet",
          "ilmoitukset": "ilmoitukset"}  # fmt: skip
ACTIVE_ROWS = {
    table: text(f"SELECT count(*) FROM tampuuri.{table} WHERE account = :a AND deleted_at IS NULL")
    for table in PROBED
}


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
        cost_centres: the cost centres whose objects were re-scanned.
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
        allowance: calls the sweep may spend on object scopes beyond the coverage floor
            (`shaping.nightly_share`); None: only the floor.
        settings: sync tunables.
        run_id: recorded on call records, runs and history.
        now: the clock (stalest-first choice, list re-scan periods).
    """
    sweep = _Sweep(
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
    probed = lists_due(account, PROBED, clock)
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
    recent = _rescanned_recently(engine, account, list(report.totals), fresh_after)
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
        sweep.sync(tuple(PROBED[r] for r in report.incremental), full=False)
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
        sweep.sync(tuple(PROBED[r] for r in report.rescanned), full=True)
    report.cost_centres = _stalest_cost_centres(
        engine, account, allowance=allowance or 0, now=clock
    )
    if report.cost_centres:
        sweep.sync(("kohteet",), full=True, cost_centres=tuple(report.cost_centres))
    return report


@dataclass
class _Sweep:
    """One account's sweep: what its probes, searches and syncs share."""

    engine: Engine
    account: AccountConfig
    catalogue: Catalogue
    settings: SyncSettings
    transport: httpx.AsyncBaseTransport | None
    environ: Mapping[str, str] | None
    report: ReconcileReport
    refused: list[str] = field(default_factory=list)  # lists whose probe got a role 403

    def session(self) -> AbstractAsyncContextManager[TampuuriClient]:
        return api_session(
            self.engine,
            self.account,
            settings=self.settings,
            trigger=TRIGGER,
            run_id=self.report.run_id,
            transport=self.transport,
            environ=self.environ,
        )

    async def probe(self, lists: list[str]) -> dict[str, tuple[int, int]]:
        """Per account-wide list: (the API's Total from a Limit=1 call, active rows)."""
        totals: dict[str, tuple[int, int]] = {}
        async with self.session() as client:
            for resource in lists:
                route = self.catalogue.resources[resource].list
                if route is None:
                    continue
                try:
                    api = await probe_total(client, route)
                except TampuuriForbidden:
                    # A probe names no object: the role lacks the list (errors.route_refusal).
                    # Its sync below reports it forbidden (or not_licensed) in one sentence.
                    self.refused.append(resource)
                    continue
                ours = await asyncio.to_thread(self._active_rows, resource)
                totals[resource] = (api, ours)
        return totals

    def _active_rows(self, resource: str) -> int:
        with self.engine.connect() as conn:
            ours = conn.execute(ACTIVE_ROWS[resource], {"a": self.account.name})
            return int(ours.scalar_one())

    def admit(self, calls: int, label: str, now: datetime) -> str | None:
        """The budget guard's reason when `calls` (priority reconcile) do not fit."""
        return admit_calls(
            self.engine, self.account, calls, priority="reconcile", label=label, now=now
        )

    def still_drifted(self, resource: str) -> bool:
        """Whether the probe's Total still differs from the active rows (after a sync)."""
        return self._active_rows(resource) != self.report.totals[resource][0]

    async def locate(self, resource: str) -> DriftLocation:
        """Search a drifted ordered list for its new and deleted rows; write what it found."""
        routes = self.catalogue.resources[resource]
        rows = await asyncio.to_thread(self._rows_with_scope, routes)
        known = [row_id for row_id, _ in rows]
        scope_values = {row_id: value for row_id, value in rows}
        async with self.session() as client:
            located = await locate_drift(
                client, routes, known, scope_values, page_size=self.catalogue.max_page_size
            )
        if located.settled:
            await asyncio.to_thread(self._write_located, routes, located)
        return located

    def _rows_with_scope(self, routes: ResourceRoutes) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(_active_rows_with_scope(routes), {"a": self.account.name}).all()
            )

    def _write_located(self, routes: ResourceRoutes, located: DriftLocation) -> None:
        with self.engine.begin() as conn:
            load_rows(
                conn,
                routes,
                account=self.account.name,
                run_id=self.report.run_id,
                items=[*located.new_items, *located.alive],
                deleted_ids=located.deleted,
                suspect_ids=located.suspect,
            )

    def sync(
        self, resources: tuple[str, ...], *, full: bool, cost_centres: tuple[int, ...] | None = None
    ) -> None:
        """A re-scan through `run_sync` (its own admission by the budget guard)."""
        request = SyncRequest(
            self.account,
            resources,
            full=full,
            trigger=TRIGGER,
            run_id=self.report.run_id,
            priority="reconcile",
            cost_centres=cost_centres,
        )
        result = run_sync(
            self.engine,
            request,
            catalogue=self.catalogue,
            settings=self.settings,
            transport=self.transport,
            environ=self.environ,
        )
        self.report.reports.append(result)
        self.report.calls += result.calls


def _active_rows_with_scope(routes: ResourceRoutes) -> TextClause:
    """Active ids of the list's table, ascending, with the scope filter's column (or NULL)."""
    spec = TABLES[routes.name]
    column = next((c.name for c in spec.columns if c.field == routes.scope_filter), "NULL")
    return text(
        f"SELECT id, {column} FROM tampuuri.{spec.name}"  # identifiers from TABLES only
        " WHERE account = :a AND deleted_at IS NULL ORDER BY id"
    )


def _rescanned_recently(
    engine: Engine, account: AccountConfig, resources: list[str], since: datetime
) -> set[str]:
    """The resources whose account-wide list was last scanned in full after `since`."""
    if not resources:
        return set()
    with engine.connect() as conn:
        states = {r: state.scope_states(conn, account.name, r).get("") for r in resources}
    return {
        r
        for r, s in states.items()
        if s is not None and s.last_full_scan_at is not None and s.last_full_scan_at > since
    }


def _stalest_cost_centres(
    engine: Engine, account: AccountConfig, *, allowance: int, now: datetime
) -> list[int]:
    with engine.connect() as conn:
        active = conn.execute(
            text(
                "SELECT id FROM tampuuri.kustannuspaikat"
                " WHERE account = :a AND deleted_at IS NULL ORDER BY id"
            ),
            {"a": account.name},
        ).scalars()
        scopes = {str(cc) for cc in active}
        if account.scope:
            scopes &= {str(cc) for cc in account.scope}
        states = state.scope_states(conn, account.name, "kohteet")
    last = {s: (states[s].last_full_scan_at if s in states else None) for s in scopes}
    costs = {
        s: max(1, math.ceil((states[s].last_total or 0) / 250)) if s in states else 1
        for s in scopes
    }
    chosen = choose_scopes(
        last,
        costs,
        allowance=allowance,
        period_days=account.budget.full_scan_period_days,
        now=now,
    )
    return sorted(int(s) for s in chosen)
