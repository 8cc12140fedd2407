"""How many calls a sync will spend, before it runs.

The arithmetic follows how the sync engine spends calls when no faults occur:

- a list scan of `T` rows takes pages(T) = 1 call for T ≤ 250 (an empty list still
  answers one page), else 1 + ceil((T - 250) / 249): pages overlap by one row, which
  proves no row was skipped (`paging.expected_calls`; 100,000 rows: 402 calls);
- an account-wide list with a change-since filter (cost centres, notices, leases,
  inspections): an incremental run reads only rows changed since the cursor:
  pages(changed), where `changed` is the Total of a `Limit=1` probe, or unknown
  (estimated 1 call); a first or full run scans everything: pages(Total);
- a fan-out list (objects, maintenance tasks: `routes.fan_out`, no change-since): one scan
  per active row of the parent (a cost centre), pages(T_cc) each; incremental is the
  same as full;
- an account-wide list without change-since (the links, for the asset `osapuolet`):
  pages(T) every run;
- deletion confirmations (a detail call answering 404, a party batch call) depend on what
  the run finds missing: the plan says so and counts 0 unless a probe shows a list shrank.

`compute_plan` is the pure arithmetic over a `WarehouseSnapshot`; `plan_sync` reads the
snapshot; `probe.probe_plan` adds `Limit=1` probes (which cost calls themselves).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from pipelines.budget.model import (
    ProbeTotals,
    ResourcePlan,
    ScopePlan,
    SyncPlan,
    calls_for,
    resource_plan,
)
from pipelines.budget.routes import ResourceFacts, resource_facts, state_resource
from pipelines.budget.snapshot import ScopeState, WarehouseSnapshot, read_snapshot
from pipelines.declarations.order import sync_order
from pipelines.settings import AccountConfig


def _deletion_note(facts: ResourceFacts, label: str) -> str | None:
    if facts.confirm == "detail":
        return f"+ 1 call per confirmed deletion of {label} (detail route answers 404)"
    if facts.confirm == "batch":
        return f"+ 1 call per {facts.batch_size} {label} missing from the scan (batch route)"
    return None


def _deletion_calls(facts: ResourceFacts, deletions: int) -> int:
    if deletions <= 0:
        return 0
    if facts.confirm == "detail":
        return deletions
    if facts.confirm == "batch":
        return math.ceil(deletions / facts.batch_size)
    return 0  # confirmed by a second scan: no extra calls


def _full_scope(
    scope: str,
    state: ScopeState | None,
    probed: int | None,
    page_size: int,
) -> ScopePlan:
    last_total = state.last_total if state else None
    last_scan = state.last_full_scan_at if state else None
    if probed is not None:
        # A list that shrank since the last complete scan has at least that many rows to
        # confirm as deleted (a lower bound: rows may also have been added).
        shrink = max(0, last_total - probed) if last_total is not None else 0
        return ScopePlan(scope, calls_for(probed, page_size), probed, "probe", last_scan, shrink)
    if last_total is not None:
        return ScopePlan(
            scope, calls_for(last_total, page_size), last_total, "last_totals", last_scan
        )
    return ScopePlan(scope, 1, None, "unknown", last_scan)


def _account_wide(
    resource: str,
    facts: ResourceFacts,
    snapshot: WarehouseSnapshot,
    *,
    full: bool,
    probe: ProbeTotals,
    nested: Sequence[ResourceFacts],
) -> ResourcePlan:
    state = snapshot.state(state_resource(resource))
    probed = probe.get((resource, ""))
    notes: list[str] = []
    if facts.change_since and state is not None and state.cursor is not None and not full:
        if probed is None:
            scope = ScopePlan("", 1, None, "unknown", state.last_full_scan_at)
            notes.append("changed rows unknown until probed: estimated 1 call")
        else:
            scope = ScopePlan(
                "", calls_for(probed, facts.page_size), probed, "probe", state.last_full_scan_at
            )
        # A change-since scan does not see deletions (webhooks and full scans do).
        return resource_plan(
            resource,
            (scope,),
            notes=tuple(notes),
            mode="incremental",
            fan_out=False,
            deletion_calls=0,
        )
    scope = _full_scope("", state, probed, facts.page_size)
    if state is None or (state.cursor is None and state.last_total is None):
        notes.append(
            "first run"
            + (
                ""
                if probed is not None
                else ": size unknown, estimated 1 call (probe for the exact number)"
            )
        )
    elif not facts.change_since:
        notes.append("no change-since filter: every sync is a full scan")
    # Nested rows (a link's party) missing from a complete scan are confirmed too; how many
    # is not known from the parent's Total, so only the note speaks for them.
    notes.extend(n for f in (facts, *nested) if (n := _deletion_note(f, f.name)))
    return resource_plan(
        resource,
        (scope,),
        notes=tuple(notes),
        mode="full",
        fan_out=False,
        deletion_calls=_deletion_calls(facts, scope.expected_deletions),
    )


def _fan_out(
    resource: str,
    facts: ResourceFacts,
    snapshot: WarehouseSnapshot,
    account: AccountConfig,
    *,
    probe: ProbeTotals,
    parent_total: int | None,
) -> ResourcePlan:
    table = state_resource(resource)
    notes: list[str] = []
    parent_rows = snapshot.parent_rows(facts.fan_out or "")
    if not parent_rows:
        # First run: the cost centres arrive with this same sync. Each costs at least one
        # call; how many there are is known from the account's scope or the parent's Total.
        count = len(account.scope) if account.scope else parent_total
        notes.append(
            f"{facts.fan_out} not yet in the warehouse: at least 1 call per cost centre"
            + ("" if count is not None else " (count unknown)")
        )
        scopes = tuple(ScopePlan(f"?{i + 1}", 1, None, "unknown") for i in range(count or 0))
        return resource_plan(
            resource, scopes, notes=tuple(notes), mode="full", fan_out=True, deletion_calls=0
        )
    scopes = tuple(
        _full_scope(
            str(cc), snapshot.state(table, str(cc)), probe.get((resource, str(cc))), facts.page_size
        )
        for cc in parent_rows
    )
    if note := _deletion_note(facts, resource):
        notes.append(note)
    deletions = sum(s.expected_deletions for s in scopes)
    return resource_plan(
        resource,
        scopes,
        notes=tuple(notes),
        mode="full",
        fan_out=True,
        deletion_calls=_deletion_calls(facts, deletions),
    )


def compute_plan(
    snapshot: WarehouseSnapshot,
    facts: Mapping[str, ResourceFacts],
    account: AccountConfig,
    *,
    resources: Sequence[str] | None = None,
    full: bool,
    probe_totals: ProbeTotals | None = None,
) -> SyncPlan:
    """The call plan from warehouse state and (optionally) probed totals. Pure.

    Args:
        resources: the assets to plan, default the account's synced ones (opt-ins too).

    Raises:
        ValueError: an unknown resource is asked for.
    """
    if resources is None:
        resources = account.synced_assets()
    probe = probe_totals or {}
    plans: list[ResourcePlan] = []
    for resource in sync_order(resources):  # ValueError: an unknown asset
        resource_facts_ = facts[state_resource(resource)]
        if resource_facts_.fan_out:
            parent = resource_facts_.fan_out
            parent_state = snapshot.state(parent)
            parent_total = (
                probe.get((parent, ""))
                if (parent, "") in probe
                else (parent_state.last_total if parent_state else None)
            )
            plans.append(
                _fan_out(
                    resource,
                    resource_facts_,
                    snapshot,
                    account,
                    probe=probe,
                    parent_total=parent_total,
                )
            )
        else:
            nested = [facts[t] for t in resource_facts_.nested if t in facts]
            plans.append(
                _account_wide(
                    resource, resource_facts_, snapshot, full=full, probe=probe, nested=nested
                )
            )
    plan = SyncPlan(account=account.name, full=full, resources=tuple(plans))
    if full:
        # Probed Totals still hold for scans that are the same in both modes; a change-since
        # scan's incremental size is a different number (changed rows) that was not probed.
        same_scans = {
            key: total
            for key, total in probe.items()
            if not facts[state_resource(key[0])].change_since
        }
        incremental = compute_plan(
            snapshot, facts, account, resources=resources, full=False, probe_totals=same_scans
        )
        plan = replace(plan, incremental=incremental)
    return plan


def plan_sync(
    conn: Connection,
    catalogue: Any,
    account: AccountConfig,
    *,
    resources: Sequence[str] | None = None,
    full: bool,
    probe_totals: ProbeTotals | None = None,
) -> SyncPlan:
    """The call plan of a sync of `account`, from the warehouse's sync_state.

    Args:
        conn: A warehouse connection (read only).
        catalogue: The route catalogue (`Catalogue`, its raw YAML mapping, or None for
            `load_catalogue()`: routes.yaml and the declarations).
        account: The account to plan for.
        resources: Assets to plan (default the account's synced ones, opt-ins included).
        full: Plan a full run (no change-since) instead of an incremental one.
        probe_totals: Totals seen by `Limit=1` probes, by (resource, scope).
    """
    if catalogue is None:
        from pipelines.tampuuri.catalogue import load_catalogue

        catalogue = load_catalogue()
    return compute_plan(
        read_snapshot(conn, account),
        resource_facts(catalogue),
        account,
        resources=resources,
        full=full,
        probe_totals=probe_totals,
    )
