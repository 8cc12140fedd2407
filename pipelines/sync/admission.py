"""Whether a run may start, and in what shape: the budget guard applied to a sync.

Before any call is made, the run's plan (from the warehouse's last totals) is checked
against what the billing cycle has left for the run's priority. A run that does not fit
is trimmed (full → incremental, or only the stalest cost centres that fit) or deferred with
a reason; it is never started and cut off halfway. The allowance also caps the run's
retries, so a flaky day cannot overspend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, text

from pipelines.budget.guard import Priority, decide, used_calls
from pipelines.budget.model import ResourcePlan, ScopePlan, SyncPlan
from pipelines.budget.packages import BillingCycle, Package, load_packages, package_for
from pipelines.budget.plan import plan_sync
from pipelines.settings import AccountConfig
from pipelines.tampuuri.catalogue import Catalogue

RECORD_PACKAGE = text(
    "INSERT INTO ops.account_packages"
    " (account, package, included_calls, monthly_fee_eur, overage_eur_per_call, updated_at)"
    " VALUES (:account, :package, :included, :fee, :overage, now())"
    " ON CONFLICT (account) DO UPDATE SET package = excluded.package,"
    " included_calls = excluded.included_calls, monthly_fee_eur = excluded.monthly_fee_eur,"
    " overage_eur_per_call = excluded.overage_eur_per_call, updated_at = now()"
    " WHERE (ops.account_packages.package, ops.account_packages.included_calls,"
    " ops.account_packages.monthly_fee_eur, ops.account_packages.overage_eur_per_call)"
    " IS DISTINCT FROM (excluded.package, excluded.included_calls,"
    " excluded.monthly_fee_eur, excluded.overage_eur_per_call)"
)


@dataclass(frozen=True)
class Admission:
    """The guard's verdict, in the terms a sync run needs."""

    run: bool
    full: bool
    # Per trimmed fan-out asset, the parent rows (cost centres) kept; None: not trimmed.
    fan_out_scopes: dict[str, tuple[int, ...]] | None
    reason: str
    planned_calls: int
    allowed_calls: int
    # The plan's calls per asset (list scans plus expected deletion proofs), where the plan
    # knew its totals (not on a first sync, which cannot know them).
    planned_by_resource: Mapping[str, int] = field(default_factory=dict)


def admit(
    conn: Connection,
    catalogue: Catalogue,
    account: AccountConfig,
    *,
    resources: tuple[str, ...],
    full: bool,
    priority: Priority,
    now: datetime,
) -> Admission:
    """Plan the run and ask the guard whether it fits the cycle's remaining calls."""
    package = package_for(account, load_packages())
    record_package(conn, account.name, package)
    cycle = BillingCycle.for_account(account, now)
    plan = plan_sync(conn, catalogue, account, resources=resources, full=full)
    decision = decide(
        plan,
        priority=priority,
        used_calls=used_calls(conn, account, cycle),
        package=package,
        account_budget=account.budget,
        now=now,
        cycle=cycle,
        webhooks=account.webhooks,
    )
    if decision.action == "defer":
        return Admission(False, full, None, decision.reason, decision.needed_calls, 0)
    chosen = decision.trimmed_plan or plan
    fan_out_scopes = None
    if decision.trimmed_plan is not None:
        fan_out_scopes = {
            resource.resource: tuple(int(s.scope) for s in resource.scopes)
            for resource in chosen.resources
            # Scopes not in the warehouse yet ("?1": a first run) cannot be chosen by id.
            if resource.fan_out and all(s.scope.isdigit() for s in resource.scopes)
        } or None
    return Admission(
        True,
        chosen.full,
        fan_out_scopes,
        decision.reason,
        chosen.expected_calls,
        decision.allowed_calls,
        {r.resource: r.calls + r.deletion_calls for r in chosen.resources if r.basis != "unknown"},
    )


def admit_calls(
    engine: Engine,
    account: AccountConfig,
    calls: int,
    *,
    priority: Priority,
    label: str,
    now: datetime,
) -> str | None:
    """Whether `calls` more calls under `priority` fit the cycle; the guard's reason if not.

    For work that is not a planned sync (a webhook batch, the sweep's probes and drift
    searches): `calls` is its estimate, `label` names it in the reason.
    """
    scope = ScopePlan(scope="", calls=calls, total=None, basis="unknown")
    plan = SyncPlan(
        account=account.name,
        full=False,
        resources=(ResourcePlan(label, calls, (scope,), "unknown", mode="incremental"),),
    )
    cycle = BillingCycle.for_account(account, now)
    with engine.connect() as conn:
        used = used_calls(conn, account, cycle)
    decision = decide(
        plan,
        priority=priority,
        used_calls=used,
        package=package_for(account, load_packages()),
        account_budget=account.budget,
        now=now,
        cycle=cycle,
        daily_incremental=0,
        webhooks=account.webhooks,
    )
    return decision.reason if decision.action == "defer" else None


def record_package(conn: Connection, account: str, package: Package) -> None:
    """Keep ops.account_packages (which prices the ledger for BI) in step with config."""
    conn.execute(
        RECORD_PACKAGE,
        {
            "account": account,
            "package": package.name,
            "included": package.included_calls,
            "fee": package.monthly_fee_eur,
            "overage": package.overage_eur_per_call,
        },
    )
