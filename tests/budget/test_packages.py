"""Packages, billing cycles and allowances: the cycle is the calendar month in Helsinki
(DST-aware), costs are exact, and the budget ceiling turns into a call allowance."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pipelines.budget.packages import (
    BillingCycle,
    allowance,
    ceiling_calls,
    cycle_bounds,
    load_packages,
    package_for,
)
from pipelines.settings import AccountConfig, BudgetSettings, ConfigError

HKI = ZoneInfo("Europe/Helsinki")
CREDS = {k: "X" for k in ("api_key", "customer_name", "account_name", "username", "password")}


def account(package="standard", **budget):
    return AccountConfig(
        name="a", base_url="http://x/", package=package, credentials=CREDS, budget=budget
    )


def test_packages_from_config():
    packages = load_packages()
    assert list(packages) == ["standard", "normal", "business", "enterprise"]
    assert packages["standard"].included_calls == 2000
    assert packages["normal"].monthly_fee_eur == Decimal("450")
    assert packages["business"].included_calls == 100_000
    assert package_for(account("Normal"), packages).name == "normal"
    with pytest.raises(ConfigError, match="unknown package 'gold'"):
        package_for(account("gold"), packages)


def test_cost_is_exact():
    standard = load_packages()["standard"]
    assert standard.cost(2000) == Decimal("0.00")
    assert standard.cost(3000) == Decimal("50.00")  # 1,000 over at 0.05 €
    normal = load_packages()["normal"]
    assert normal.cost(40_001) == Decimal("450.02")


@pytest.mark.parametrize(
    ("now_utc", "start_utc", "end_utc"),
    [
        # Mid-month in summer time (UTC+3): the cycle started 31 May 21:00 UTC.
        (
            datetime(2025, 6, 15, 12, tzinfo=UTC),
            datetime(2025, 5, 31, 21, tzinfo=UTC),
            datetime(2025, 6, 30, 21, tzinfo=UTC),
        ),
        # 22:30 UTC on 31 March is already 1 April in Helsinki (UTC+3 after the DST switch).
        (
            datetime(2025, 3, 31, 22, 30, tzinfo=UTC),
            datetime(2025, 3, 31, 21, tzinfo=UTC),
            datetime(2025, 4, 30, 21, tzinfo=UTC),
        ),
        # March holds the spring switch: starts at UTC+2, ends at UTC+3 (an hour shorter).
        (
            datetime(2025, 3, 30, 0, 59, tzinfo=UTC),
            datetime(2025, 2, 28, 22, tzinfo=UTC),
            datetime(2025, 3, 31, 21, tzinfo=UTC),
        ),
        # October holds the autumn switch: starts at UTC+3, ends at UTC+2.
        (
            datetime(2025, 10, 26, 1, 30, tzinfo=UTC),
            datetime(2025, 9, 30, 21, tzinfo=UTC),
            datetime(2025, 10, 31, 22, tzinfo=UTC),
        ),
        # New year: 31 Dec 22:00 UTC is midnight in Helsinki.
        (
            datetime(2025, 12, 31, 22, 0, tzinfo=UTC),
            datetime(2025, 12, 31, 22, tzinfo=UTC),
            datetime(2026, 1, 31, 22, tzinfo=UTC),
        ),
        (
            datetime(2025, 12, 31, 21, 59, 59, tzinfo=UTC),
            datetime(2025, 11, 30, 22, tzinfo=UTC),
            datetime(2025, 12, 31, 22, tzinfo=UTC),
        ),
    ],
)
def test_cycle_bounds_in_helsinki(now_utc, start_utc, end_utc):
    start, end = cycle_bounds(now_utc, "Europe/Helsinki")
    assert (start, end) == (start_utc, end_utc)
    assert start.tzinfo == HKI and start.hour == 0 and start.day == 1
    assert start <= now_utc < end


def test_cycle_lengths_follow_dst():
    march = BillingCycle.containing(datetime(2025, 3, 10, tzinfo=UTC))
    october = BillingCycle.containing(datetime(2025, 10, 10, tzinfo=UTC))
    assert march.days == 31 and march.length == timedelta(days=31) - timedelta(hours=1)
    assert october.days == 31 and october.length == timedelta(days=31, hours=1)
    with pytest.raises(ValueError, match="aware"):
        cycle_bounds(datetime(2025, 3, 1), "Europe/Helsinki")


def test_projection_is_linear_on_elapsed_time():
    cycle = BillingCycle.containing(datetime(2025, 6, 10, tzinfo=UTC))
    assert cycle.days == 30
    # 600 calls in the first 6 days of a 30-day month -> 3,000 by month end.
    assert cycle.project(600, datetime(2025, 6, 7, tzinfo=HKI)) == 3000
    # Half the month gone: double.
    assert cycle.project(1001, datetime(2025, 6, 16, tzinfo=HKI)) == 2002
    # An hour into the month counts as a day: 10 calls -> 300, not 7,200.
    assert cycle.project(10, datetime(2025, 6, 1, 1, tzinfo=HKI)) == 300
    # After the cycle ends the projection is what was used.
    assert cycle.project(1234, datetime(2025, 7, 3, tzinfo=HKI)) == 1234


@pytest.mark.parametrize(
    ("package", "ceiling", "expected"),
    [
        ("standard", "package", 2000),
        ("standard", {"overage_calls": 500}, 2500),
        ("standard", {"overage_eur": 10}, 2200),  # 10 € / 0.05 € = 200 calls
        ("normal", {"overage_eur": 1}, 40_050),  # 1 € / 0.02 €
        ("standard", {"overage_calls": 500, "overage_eur": 10}, 2200),  # the stricter wins
        ("business", "package", 100_000),
    ],
)
def test_allowance_from_ceiling(package, ceiling, expected):
    acc = account(package, ceiling=ceiling)
    assert allowance(acc, package_for(acc)) == expected
    assert ceiling_calls(BudgetSettings(ceiling=ceiling), package_for(acc)) == expected
