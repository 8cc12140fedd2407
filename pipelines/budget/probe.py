"""Exact plans from `Limit=1` probes: one call per scan tells its Total.

A probe is a billed call. Account-wide scans are always worth probing (one call to learn
the size of a scan that may take hundreds). A fan-out scope is not: a cost centre with up
to 250 objects costs one call to scan and one to probe, so fan-out scopes are probed only
when asked (`probe_fan_out=True`) and otherwise planned from their last totals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from pipelines.budget.model import SyncPlan
from pipelines.budget.plan import compute_plan
from pipelines.budget.routes import ResourceFacts, resource_facts, state_resource
from pipelines.budget.snapshot import WarehouseSnapshot, read_snapshot
from pipelines.declarations import load_declarations
from pipelines.declarations.order import sync_order
from pipelines.settings import AccountConfig, load_sync_settings
from pipelines.tampuuri.catalogue import Route

HELSINKI = ZoneInfo("Europe/Helsinki")
# probe(client, route, *, path_params, filters) -> Total; `tampuuri.paging.probe_total`.
Prober = Callable[..., Awaitable[int]]


@dataclass(frozen=True)
class ProbeTarget:
    """One `Limit=1` call to make: which list, under which scope, with which filters."""

    resource: str  # asset resource (the probe_totals key)
    scope: str
    table: str  # catalogue resource whose list route is called
    path_params: Mapping[str, object] = field(default_factory=dict)
    filters: Mapping[str, object] = field(default_factory=dict)


def probe_targets(
    snapshot: WarehouseSnapshot,
    facts: Mapping[str, ResourceFacts],
    *,
    resources: Sequence[str],
    full: bool,
    overlap: timedelta,
    fan_out_param: str | None = None,
    probe_fan_out: bool = False,
) -> list[ProbeTarget]:
    """The probes an exact plan needs. Pure (but for reading the declarations).

    A change-since resource planned incrementally is probed with the same filter the sync
    will send (cursor minus the overlap window, Helsinki time), so the probe's Total is the
    number of rows the incremental scan will read. A fan-out scope's probe fills the list's
    one path parameter (`fan_out_param`, default the declared route's) with the parent id.
    """
    targets: list[ProbeTarget] = []
    for resource in sync_order(resources):
        table = state_resource(resource)
        spec = facts[table]
        if spec.fan_out:
            if probe_fan_out:
                param = fan_out_param or _list_parameter(table)
                targets.extend(
                    ProbeTarget(resource, str(cc), table, path_params={param: cc})
                    for cc in snapshot.parent_rows(spec.fan_out)
                )
            continue
        state = snapshot.state(table)
        filters: dict[str, object] = {}
        if spec.change_since and state is not None and state.cursor is not None and not full:
            since = (state.cursor - overlap).astimezone(HELSINKI).isoformat()
            filters[spec.change_since] = since
        targets.append(ProbeTarget(resource, "", table, filters=filters))
    return targets


def _list_parameter(resource: str) -> str:
    """The one path parameter of a fan-out resource's declared list route."""
    route = load_declarations()[resource].spec.routes.list
    assert route is not None  # a fan-out is listed (load.py checks it)
    (param,) = Route(route.method, route.path).parameters
    return param


async def probe_plan(
    client: Any,
    catalogue: Any,
    conn: Connection,
    account: AccountConfig,
    *,
    resources: Sequence[str] | None = None,
    full: bool,
    overlap: timedelta | None = None,
    probe_fan_out: bool = False,
    probe: Prober | None = None,
) -> SyncPlan:
    """Probe each scan's Total with one `Limit=1` call, then plan exactly.

    Args:
        client: A `TampuuriClient` (its ledger records the probes: they are billed).
        catalogue: The `Catalogue` (its list routes are probed).
        conn: A warehouse connection (read only).
        account: The account to plan for.
        resources: Assets to plan (default the account's synced ones, opt-ins included).
        full: Plan a full run.
        overlap: The change-since overlap window; default from config/sync.yaml.
        probe_fan_out: Also probe each cost centre of fan-out resources.
        probe: The probe function; default `pipelines.tampuuri.paging.probe_total`.

    Returns:
        The plan; `plan.probe_calls` is what the probes cost.
    """
    if probe is None:
        from pipelines.tampuuri.paging import probe_total

        probe = probe_total
    if overlap is None:
        overlap = timedelta(minutes=load_sync_settings().overlap_minutes)
    if resources is None:
        resources = account.synced_assets()
    snapshot = read_snapshot(conn, account)
    facts = resource_facts(catalogue)
    targets = probe_targets(
        snapshot,
        facts,
        resources=resources,
        full=full,
        overlap=overlap,
        probe_fan_out=probe_fan_out,
    )
    totals = await asyncio.gather(
        *(
            probe(
                client,
                catalogue.resources[t.table].list,
                path_params=t.path_params,
                filters=t.filters,
            )
            for t in targets
        )
    )
    plan = compute_plan(
        snapshot,
        facts,
        account,
        resources=resources,
        full=full,
        probe_totals={
            (t.resource, t.scope): total for t, total in zip(targets, totals, strict=True)
        },
    )
    return replace(plan, probe_calls=len(targets))
