"""The budget guard: per priority and package, a plan runs, is trimmed (full -> incremental,
fan-out -> stalest scopes that fit) or is deferred, with the numbers in the reason; the
cycle's used calls come from ops.api_calls (failures included)."""

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.budget.guard import decide, used_calls, webhook_reserve
from pipelines.budget.packages import BillingCycle, load_packages
from pipelines.budget.plan import plan_sync
from pipelines.settings import BudgetSettings

from .helpers import make_account, put_calls, put_cost_centres, put_state

NOW = datetime(2025, 6, 10, 2, tzinfo=UTC)
CYCLE = BillingCycle.containing(NOW)
PACKAGES = load_packages()


@pytest.fixture
def plans(engine):
    """An account with 40 cost centres of 1 call each, notices of 800 rows."""
    acc = make_account()
    with engine.begin() as conn:
        ccs = list(range(100, 140))
        put_cost_centres(conn, "acme", ccs)
        put_state(conn, "acme", "kustannuspaikat", cursor=NOW, last_total=40)
        for i, cc in enumerate(ccs):
            put_state(
                conn,
                "acme",
                "kohteet",
                str(cc),
                last_total=100,
                last_full=NOW - timedelta(days=1 + i % 10),
            )
        put_state(conn, "acme", "osapuoli_yhteydet", last_total=997)
        put_state(conn, "acme", "ilmoitukset", cursor=NOW, last_total=800)
    with engine.connect() as conn:
        incremental = plan_sync(conn, None, acc, full=False)
        full = plan_sync(conn, None, acc, full=True)
    # Pages overlap by one row: 997 links take 1 + ceil(747 / 249) = 4 calls, 800 notices 4.
    # incremental: 1 + 40 + 4 + 1 = 46; full: 1 + 40 + 4 + 4 = 49
    assert (incremental.calls, full.calls) == (46, 49)
    return {"incremental": incremental, "full": full}


def _decide(plan, priority, used, package="standard", **budget):
    return decide(
        plan,
        priority=priority,
        used_calls=used,
        package=PACKAGES[package],
        account_budget=BudgetSettings(**budget),
        now=NOW,
        cycle=CYCLE,
    )


# Standard: 2,000 included, 10 % webhook reserve = 200; a day's incremental = 46.
@pytest.mark.parametrize(
    ("plan", "priority", "used", "package", "action", "allowed"),
    [
        ("incremental", "incremental", 0, "standard", "run", 1800),
        ("incremental", "incremental", 1754, "standard", "run", 46),
        ("incremental", "incremental", 1755, "standard", "trim", 45),  # one scope fewer
        ("incremental", "webhook", 1950, "standard", "run", 50),  # may use the reserve
        ("incremental", "webhook", 1960, "standard", "trim", 40),
        ("full", "full", 1705, "standard", "run", 49),  # 2000-1705-200-46 = 49
        ("full", "full", 1706, "standard", "trim", 48),  # drops to incremental (46)
        # 12 left: incremental, 6 account-wide calls + the nightly share of 6 cost centres.
        ("full", "reconcile", 1742, "standard", "trim", 12),
        # 10 left: even the nightly share (6 cost centres) plus 6 other calls does not fit.
        ("full", "reconcile", 1744, "standard", "defer", 0),
        ("full", "full", 1800, "standard", "defer", 0),
        ("incremental", "incremental", 1800, "standard", "defer", 0),
        ("full", "full", 35_000, "normal", "run", 954),  # 40000-35000-4000-46
    ],
)
def test_decisions_per_priority_and_package(plans, plan, priority, used, package, action, allowed):
    decision = _decide(plans[plan], priority, used, package)
    assert (decision.action, decision.allowed_calls) == (action, allowed)
    assert decision.needed_calls == plans[plan].expected_calls
    if action == "trim":
        assert decision.trimmed_plan is not None
        assert decision.trimmed_plan.expected_calls <= allowed
    else:
        assert decision.trimmed_plan is None


def test_reason_names_the_numbers(plans):
    decision = _decide(plans["incremental"], "incremental", 1820)
    assert decision.action == "defer"
    assert decision.reason == (
        "sync needs 46 calls, 0 left of 2,000 this cycle after the 200-call"
        " webhook reserve (1,820 used): deferred; the cycle resets on 2025-07-01"
    )
    full = _decide(plans["full"], "reconcile", 1000)
    assert full.reason == (
        "reconciliation needs 49 calls, 754 left of 2,000 this cycle after the 200-call"
        " webhook reserve and a day's 46 incremental calls (1,000 used)"
    )


def test_trim_keeps_the_stalest_cost_centres(plans):
    # 20 left for the incremental priority: 6 calls for the account-wide scans, 14 scopes.
    decision = _decide(plans["incremental"], "incremental", 1780)
    assert decision.action == "trim" and decision.allowed_calls == 20
    kohteet = decision.trimmed_plan.resource("kohteet")
    assert len(kohteet.scopes) == 14 and decision.trimmed_plan.calls == 20
    original = plans["incremental"].resource("kohteet").scopes
    stalest = sorted(original, key=lambda s: (s.last_full_scan_at, int(s.scope)))[:14]
    assert [s.scope for s in kohteet.scopes] == sorted(s.scope for s in stalest)
    assert "trimmed (kohteet to the 14 stalest of 40 cost centres) to 20 calls" in (decision.reason)


def test_ceiling_with_overage(plans):
    # 500 overage calls on top of Standard: the webhook priority may go to 2,500.
    decision = _decide(plans["incremental"], "webhook", 2454, ceiling={"overage_calls": 500})
    assert (decision.action, decision.allowed_calls) == ("run", 46)
    assert webhook_reserve(BudgetSettings(reserve_for_webhooks=0.25), PACKAGES["normal"]) == 10_000


def test_used_calls_counts_the_cycle_with_failures(engine):
    acc = make_account()
    with engine.begin() as conn:
        put_calls(
            conn,
            "acme",
            [
                (
                    datetime(2025, 5, 31, 20, 59, tzinfo=UTC),
                    "GET",
                    "kustannuspaikat/selaa",
                    200,
                    "nightly",
                    3,
                ),  # 23:59 Helsinki on 31 May: the previous cycle
                (
                    datetime(2025, 5, 31, 21, 0, tzinfo=UTC),
                    "GET",
                    "kustannuspaikat/selaa",
                    200,
                    "nightly",
                    5,
                ),  # midnight Helsinki: this cycle
                (datetime(2025, 6, 9, tzinfo=UTC), "GET", "ilmoitukset/selaa", 503, "nightly", 2),
                (datetime(2025, 6, 9, tzinfo=UTC), "GET", "ilmoitukset/selaa", None, "nightly", 1),
                (
                    datetime(2025, 6, 30, 21, 0, tzinfo=UTC),
                    "GET",
                    "ilmoitukset/selaa",
                    200,
                    "nightly",
                    4,
                ),  # July in Helsinki
            ],
        )
        put_calls(conn, "other", [(datetime(2025, 6, 9, tzinfo=UTC), "GET", "x", 200, "n", 7)])
    with engine.connect() as conn:
        assert used_calls(conn, acc, CYCLE) == 8
