"""One account's reconciliation sweep at work: its probes, drift searches and re-scans
(`reconcile.reconcile_account` decides which). Warehouse reads are `sql/sync/` templates
over declared tables, run in threads."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import Engine

from pipelines.settings import AccountConfig, SyncSettings
from pipelines.sync.admission import admit_calls
from pipelines.sync.api_session import api_session
from pipelines.sync.drift import DriftLocation, locate_drift
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.targeted_load import load_rows
from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.errors import TampuuriForbidden
from pipelines.tampuuri.paging import probe_total
from pipelines.warehouse.declared_sql import NO_COLUMN, statement
from pipelines.warehouse.tables import TABLES

if TYPE_CHECKING:
    from pipelines.sync.reconcile import ReconcileReport

TRIGGER = "reconcile"


@dataclass
class Sweep:
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
            ours = conn.execute(statement("active_count", resource), {"account": self.account.name})
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
                conn.execute(_active_rows_with_scope(routes), {"account": self.account.name}).all()
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


def _active_rows_with_scope(routes: ResourceRoutes) -> Any:
    """Active ids of the list's table, ascending, with the scope filter's column (or NULL)."""
    spec = TABLES[routes.name]
    column = next((c.name for c in spec.columns if c.field == routes.scope_filter), NO_COLUMN)
    return statement("active_with_column", spec.name, column)
