"""The account's settings that shape how it spends calls, as a budget owner reads them.

The account's profile (config/profiles.yaml, `profile:` and `profile_overrides:` in the
accounts file) fills its `budget` block; the report shows the profile, its webhook window
as written, the `webhooks` switch and the budget keys as they apply. How far the product
has loosened the profile this cycle is `pipelines/profiles/describe.py`'s table.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.budget.guard import webhook_reserve
from pipelines.budget.packages import Package
from pipelines.settings import AccountConfig

HEADING = "Settings that shape spending (accounts file and its profile)"


@dataclass(frozen=True)
class SpendingSetting:
    """One setting: its name in the accounts file, its value, and what it does."""

    name: str
    value: str | int | float | bool
    meaning: str


def _ceiling(account: AccountConfig) -> tuple[str, str]:
    ceiling = account.budget.ceiling
    if ceiling == "package":
        return "package", "stop at the package's included calls (no overage)"
    parts = []
    if "overage_calls" in ceiling:
        parts.append(f"{int(ceiling['overage_calls']):,} calls")
    if "overage_eur" in ceiling:
        parts.append(f"{ceiling['overage_eur']} €")
    limits = " or ".join(parts)
    return f"overage up to {limits}", f"allow overage up to {limits}, the stricter one"


def spending_settings(account: AccountConfig, package: Package) -> tuple[SpendingSetting, ...]:
    """The account's settings that decide how many calls it spends, in the file's words."""
    budget = account.budget
    reserve = webhook_reserve(budget, package, webhooks=account.webhooks)
    ceiling, ceiling_meaning = _ceiling(account)
    window = account.effective_profile.webhook_window_s
    return (
        SpendingSetting("profile", account.profile, "config/profiles.yaml, with the overrides"),
        SpendingSetting(
            "profile.webhook_window_s",
            window,
            f"webhook changes batched within {window:,.0f} s (wider while over the package)",
        ),
        SpendingSetting(
            "webhooks",
            account.webhooks,
            "webhooks and the reconciliation sweep keep it fresh (no nightly polling sync)"
            if account.webhooks
            else "the nightly sync polls every resource",
        ),
        SpendingSetting(
            "budget.reserve_for_webhooks",
            budget.reserve_for_webhooks,
            f"{budget.reserve_for_webhooks:.0%} of the included calls ({reserve:,}) kept for"
            " webhook refreshes"
            if account.webhooks
            else "nothing kept: the account gets no webhooks (webhooks: false)",
        ),
        SpendingSetting("budget.ceiling", ceiling, ceiling_meaning),
        SpendingSetting(
            "budget.full_scan_period_days",
            budget.full_scan_period_days,
            f"every cost centre's objects re-scanned within {budget.full_scan_period_days} days",
        ),
        SpendingSetting(
            "budget.list_rescan_period_days",
            budget.list_rescan_period_days,
            "lists without a change-since filter re-read in full every "
            f"{budget.list_rescan_period_days} days",
        ),
        SpendingSetting(
            "budget.on_drift",
            budget.on_drift,
            "a drifted list is searched the same night"
            if budget.on_drift == "locate"
            else "a drifted list waits for its periodic re-read",
        ),
    )
