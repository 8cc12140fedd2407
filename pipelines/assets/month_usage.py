"""The account's calls this billing cycle against its package, for asset metadata.

Counts `ops.api_calls` (every call, failed ones too: Tampuuri bills them) over the billing
cycle, with the budget guard's own count so the UI and the guard never disagree.
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

    def describe(self) -> str:
        """E.g. '1,234 / 40,000 (3.1 %)'."""
        share = 100.0 * self.used / self.included if self.included else 0.0
        return f"{self.used:,} / {self.included:,} ({share:.1f} %)"


def month_usage(
    conn: Connection, account: AccountConfig, now: datetime | None = None
) -> MonthUsage:
    """How many calls `account` has spent this billing cycle, and its package."""
    cycle = BillingCycle.for_account(account, now or datetime.now(UTC))
    package = package_for(account)
    return MonthUsage(
        used=used_calls(conn, account, cycle),
        included=package.included_calls,
        package=package.label,
    )
