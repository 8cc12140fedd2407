"""The account's calls this billing cycle against its package, for asset metadata.

Counts `ops.api_calls` (every call, failed ones too: Tampuuri bills them) over the billing
cycle, with the budget guard's own count so the UI and the guard never disagree, and the
cycle's linear forecast (`BillingCycle.project`, the one `tampuuri-sync budget` shows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from pipelines.budget.guard import used_calls
from pipelines.budget.packages import BillingCycle, package_for
from pipelines.settings import AccountConfig


@dataclass(frozen=True)
class MonthUsage:
    """Calls spent by one account in the current billing cycle."""

    used: int
    included: int
    package: str
    forecast: int

    def describe(self) -> str:
        """E.g. '1,234 / 40,000 (3.1 %), forecast 12,345 this cycle'."""
        share = 100.0 * self.used / self.included if self.included else 0.0
        return (
            f"{self.used:,} / {self.included:,} ({share:.1f} %),"
            f" forecast {self.forecast:,} this cycle"
        )


def month_usage(
    conn: Connection, account: AccountConfig, now: datetime | None = None
) -> MonthUsage:
    """How many calls `account` has spent this billing cycle, and its package."""
    at = now or datetime.now(UTC)
    cycle = BillingCycle.for_account(account, at)
    package = package_for(account)
    used = used_calls(conn, account, cycle)
    return MonthUsage(
        used=used,
        included=package.included_calls,
        package=package.label,
        forecast=cycle.project(used, at),
    )
