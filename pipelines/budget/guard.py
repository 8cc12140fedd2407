"""The budget guard: run, trim or defer a sync so the month's calls last the month.

Priorities, highest first: a webhook refresh (a user is waiting for fresh data) >
the incremental sync > the reconciliation sweep > a full scan or backfill.

- A webhook refresh may spend everything up to the ceiling.
- An incremental sync must leave the webhook reserve
  (`reserve_for_webhooks` × the package's included calls) untouched.
- Reconciliation and full runs must also leave a day's expected incremental spend, so a
  big run today does not starve tomorrow's nightly sync.

A plan that does not fit is trimmed before it is deferred: a full run drops to an
incremental one; a fan-out (kohteet per cost centre) keeps the stalest scopes that fit
(`shaping.choose_scopes`). `decide` is pure; `used_calls` is its one read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, text

from pipelines.budget.model import SyncPlan
from pipelines.budget.packages import BillingCycle, Package, ceiling_calls
from pipelines.budget.shaping import choose_scopes
from pipelines.settings import AccountConfig, BudgetSettings

Priority = Literal["webhook", "incremental", "reconcile", "full"]
Action = Literal["run", "trim", "defer"]
PRIORITIES: tuple[Priority, ...] = ("webhook", "incremental", "reconcile", "full")
# Every call counts, retries and failures too: Tampuuri bills them all.
CYCLE_CALLS = text(
    "SELECT count(*) FROM ops.api_calls"
    " WHERE account = :account AND sent_at >= :start AND sent_at < :end"
)
_LABELS = {
    "webhook": "webhook refresh",
    # A sync without --full: incremental where a change-since filter exists, else a scan.
    "incremental": "sync",
    "reconcile": "reconciliation",
    "full": "full sync",
}


@dataclass(frozen=True)
class GuardDecision:
    """What the guard allows.

    Attributes:
        action: "run" the plan as is, "trim" (run `trimmed_plan` instead) or "defer".
        allowed_calls: the most calls the run may spend (0 when deferred): what is left
            for its priority, which also covers deletion confirmations and retries.
        reason: a sentence with the numbers, for logs, run records and the UI.
        trimmed_plan: the plan to run when trimmed.
        needed_calls: what the original plan expects to spend.
    """

    action: Action
    allowed_calls: int
    reason: str
    trimmed_plan: SyncPlan | None = None
    needed_calls: int = 0


def used_calls(conn: Connection, account: AccountConfig | str, cycle: BillingCycle) -> int:
    """Calls recorded in ops.api_calls for `account` within `cycle`."""
    name = account if isinstance(account, str) else account.name
    count = conn.execute(CYCLE_CALLS, {"account": name, "start": cycle.start, "end": cycle.end})
    return int(count.scalar_one())


def webhook_reserve(budget: BudgetSettings, package: Package, *, webhooks: bool = True) -> int:
    """Calls kept back for webhook refreshes (rounded up); none for an account that gets
    no webhooks (`webhooks: false`: nothing would ever spend them)."""
    if not webhooks:
        return 0
    return math.ceil(budget.reserve_for_webhooks * package.included_calls)


def _headroom(
    priority: Priority,
    *,
    used: int,
    ceiling: int,
    reserve: int,
    daily_incremental: int,
) -> tuple[int, str]:
    """Calls left for `priority` and the clause that says what was held back."""
    left = ceiling - used
    if priority == "webhook":
        return left, ""
    kept = f" after the {reserve:,}-call webhook reserve" if reserve else ""
    if priority == "incremental":
        return left - reserve, kept
    day = f"a day's {daily_incremental:,} incremental calls"
    return left - reserve - daily_incremental, f"{kept} and {day}" if kept else f" after {day}"


def _shape_fan_outs(
    plan: SyncPlan, available: int, *, period_days: int, now: datetime
) -> tuple[SyncPlan, list[str]]:
    """Keep the stalest scopes of each fan-out that fit what the rest of the plan leaves."""
    notes: list[str] = []
    for resource in plan.resources:
        if not resource.fan_out or not resource.scopes:
            continue
        others = plan.expected_calls - resource.calls - resource.deletion_calls
        chosen = choose_scopes(
            {s.scope: s.last_full_scan_at for s in resource.scopes},
            {s.scope: s.calls for s in resource.scopes},
            allowance=available - others,
            period_days=period_days,
            now=now,
        )
        if len(chosen) == len(resource.scopes):
            continue
        note = (
            f"{resource.resource}: {len(chosen):,} of {len(resource.scopes):,} scopes tonight,"
            f" stalest first (every scope within {period_days} days)"
        )
        plan = plan.with_resource(resource.keeping(chosen, note))
        notes.append(
            f"{resource.resource} to the {len(chosen):,} stalest of"
            f" {len(resource.scopes):,} cost centres"
        )
    return plan, notes


def decide(
    plan: SyncPlan,
    *,
    priority: Priority,
    used_calls: int,
    package: Package,
    account_budget: BudgetSettings,
    now: datetime,
    cycle: BillingCycle,
    daily_incremental: int | None = None,
    webhooks: bool = True,
) -> GuardDecision:
    """Decide whether `plan` may run now. Pure.

    Args:
        plan: The call plan (`plan.expected_calls` is what it needs).
        priority: "webhook", "incremental", "reconcile" or "full".
        used_calls: Calls already spent this cycle (`used_calls(conn, account, cycle)`).
        package: The account's package.
        account_budget: The account's budget settings (reserve, ceiling, shaping period).
        now: The time of the decision.
        cycle: The current billing cycle.
        daily_incremental: A day's expected incremental spend; default the plan's own
            incremental alternative (`plan.daily_incremental_calls`).
        webhooks: Whether the account gets webhooks (`AccountConfig.webhooks`); without
            them no webhook reserve is held back.
    """
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}; known: {', '.join(PRIORITIES)}")
    ceiling = ceiling_calls(account_budget, package)
    daily = plan.daily_incremental_calls if daily_incremental is None else daily_incremental
    available, held_back = _headroom(
        priority,
        used=used_calls,
        ceiling=ceiling,
        reserve=webhook_reserve(account_budget, package, webhooks=webhooks),
        daily_incremental=daily,
    )
    needed = plan.expected_calls
    situation = (
        f"{_LABELS[priority]} needs {needed:,} calls, {max(available, 0):,} left of"
        f" {ceiling:,} this cycle{held_back} ({used_calls:,} used)"
    )
    if needed <= available:
        return GuardDecision("run", available, situation, None, needed)

    candidate, steps = plan, []
    if plan.full and plan.incremental is not None:
        candidate = plan.incremental
        steps.append("dropped to incremental")
    if candidate.expected_calls > available:
        candidate, shaped = _shape_fan_outs(
            candidate, available, period_days=account_budget.full_scan_period_days, now=now
        )
        steps.extend(shaped)
    if steps and 0 < candidate.expected_calls <= available:
        return GuardDecision(
            "trim",
            available,
            f"{situation}: trimmed ({'; '.join(steps)}) to {candidate.expected_calls:,} calls",
            candidate,
            needed,
        )
    resets = cycle.end.date().isoformat()
    return GuardDecision(
        "defer", 0, f"{situation}: deferred; the cycle resets on {resets}", None, needed
    )
