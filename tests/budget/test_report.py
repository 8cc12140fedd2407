"""The transaction report over ops.api_calls: calls by day/route/trigger/status, failed
calls, the linear month-end forecast and its cost per package (exact on crafted
ledgers), the day the package runs out, the cheapest package the forecast fits (with
the overage the ceiling allows), the warning level, JSON shape and PNG/HTML output."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pipelines.budget.render import render_html, render_png
from pipelines.budget.report import usage_report, warning_level

from .helpers import make_account, put_calls

HKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2025, 6, 7, tzinfo=HKI)  # six full days of a 30-day June


@pytest.fixture
def ledger(engine):
    """600 calls in June 1-6 (100 a day), 4 of them failed; calls outside the window."""
    rows = []
    for day in range(1, 7):
        at = datetime(2025, 6, day, 2, tzinfo=HKI)
        rows += [
            (at, "GET", "kustannuspaikat/selaa", 200, "nightly", 10),
            (at, "POST", "kohteet/{kohde_id}/selaa", 200, "nightly", 80),
            (at, "GET", "osapuolet/yhteydet/selaa", 200, "webhook", 10),
        ]
    rows[0] = (rows[0][0], "GET", "kustannuspaikat/selaa", 200, "nightly", 7)
    rows += [
        (datetime(2025, 6, 1, 0, 0, tzinfo=HKI), "GET", "kustannuspaikat/selaa", 503, "nightly", 2),
        (
            datetime(2025, 6, 1, 0, 1, tzinfo=HKI),
            "GET",
            "kustannuspaikat/selaa",
            None,
            "nightly",
            1,
        ),
        (
            datetime(2025, 5, 31, 23, 59, tzinfo=HKI),
            "GET",
            "ilmoitukset/selaa",
            200,
            "nightly",
            50,
        ),  # May
        (NOW + timedelta(hours=1), "GET", "ilmoitukset/selaa", 200, "nightly", 9),  # after now
    ]
    with engine.begin() as conn:
        put_calls(conn, "acme", rows)
        put_calls(conn, "other", [(NOW - timedelta(days=1), "GET", "x", 200, "n", 77)])
    return engine


def test_projection_and_cost_on_a_crafted_ledger(ledger):
    report = usage_report(ledger, make_account(package="standard"), now=NOW)
    assert report.used == 600
    assert report.projected == 3000  # 600 in 6 of 30 days
    assert report.cost_so_far_eur == Decimal("0.00")
    assert report.projected_cost_eur == Decimal("50.00")  # 1,000 over × 0.05 €
    assert report.level == "over"
    assert [(p.name, p.cost_eur, p.fits) for p in report.package_costs] == [
        ("standard", Decimal("50.00"), False),  # the ceiling "package" allows no overage
        ("normal", Decimal("450.00"), True),
        ("business", Decimal("900.00"), True),
        ("enterprise", Decimal("1800.00"), True),
    ]
    assert report.cheapest is not None and report.cheapest.name == "normal"
    # 100 calls a day from June 7: the 2,000th call is spent on June 20.
    assert report.runs_out_on == date(2025, 6, 20)
    assert report.ceiling_reached_on == date(2025, 6, 20)


def test_overage_the_ceiling_allows_makes_a_package_fit(ledger):
    account = make_account(package="standard", ceiling={"overage_calls": 1000})
    report = usage_report(ledger, account, now=NOW)
    standard = report.package_costs[0]
    assert (standard.ceiling_calls, standard.fits) == (3000, True)
    assert report.cheapest == standard  # 50 € beats Normal's 450 €
    assert report.runs_out_on == date(2025, 6, 20)
    assert report.ceiling_reached_on == date(2025, 6, 30)  # the 3,000th call: the last day


def test_run_out_day_already_passed_or_not_this_cycle(engine):
    with engine.begin() as conn:
        put_calls(conn, "acme", [(datetime(2025, 6, 2, 9, tzinfo=HKI), "GET", "r", 200, "n", 1500)])
        put_calls(conn, "acme", [(datetime(2025, 6, 4, 9, tzinfo=HKI), "GET", "r", 200, "n", 600)])
        put_calls(conn, "small", [(datetime(2025, 6, 4, 9, tzinfo=HKI), "GET", "r", 200, "n", 10)])
    report = usage_report(engine, make_account(), now=NOW)
    assert report.runs_out_on == date(2025, 6, 4)  # 1,500 + 600 passed 2,000 that day
    small = usage_report(engine, make_account(name="small"), now=NOW)
    assert (small.projected, small.runs_out_on) == (50, None)
    assert small.cheapest is not None and small.cheapest.name == "standard"


def test_nothing_fits_the_largest_package(engine):
    with engine.begin() as conn:
        put_calls(conn, "acme", [(datetime(2025, 6, 3, tzinfo=HKI), "GET", "r", 200, "n", 60_000)])
    report = usage_report(engine, make_account(), now=NOW)
    assert report.projected == 300_000 and report.cheapest is None
    assert json.loads(report.to_json())["cheapest_package"] is None


def test_spending_settings_name_the_accounts_file_keys(engine):
    account = make_account(
        reserve_for_webhooks=0.25,
        full_scan_period_days=30,
        list_rescan_period_days=14,
        on_drift="wait",
    )
    report = usage_report(engine, account, now=NOW)
    assert {s.name: s.value for s in report.settings} == {
        "profile": "default",
        "profile.webhook_window_s": 0.0,
        "webhooks": False,
        "budget.reserve_for_webhooks": 0.25,
        "budget.ceiling": "package",
        "budget.full_scan_period_days": 30,
        "budget.list_rescan_period_days": 14,
        "budget.on_drift": "wait",
    }
    reserve = next(s for s in report.settings if s.name == "budget.reserve_for_webhooks")
    # No webhooks, nothing would spend a reserve: none is held back.
    assert reserve.meaning == "nothing kept: the account gets no webhooks (webhooks: false)"
    with_webhooks = usage_report(engine, account.model_copy(update={"webhooks": True}), now=NOW)
    reserve = next(s for s in with_webhooks.settings if s.name == "budget.reserve_for_webhooks")
    assert reserve.meaning == "25% of the included calls (500) kept for webhook refreshes"


def test_breakdowns(ledger):
    report = usage_report(ledger, make_account(), now=NOW)
    assert report.by_day["calls"].tolist() == [100] * 6 + [0]  # June 1-7, today empty
    assert report.by_day["cumulative"].iloc[-1] == 600
    assert report.by_route.values.tolist() == [
        ["POST", "kohteet/{kohde_id}/selaa", 480, 0],
        ["GET", "kustannuspaikat/selaa", 60, 3],
        ["GET", "osapuolet/yhteydet/selaa", 60, 0],
    ]
    assert report.by_trigger.values.tolist() == [["nightly", 540], ["webhook", 60]]
    assert report.by_status.values.tolist() == [["200", 597], ["503", 2], ["none", 1]]
    assert report.failed.values.tolist() == [
        ["GET", "kustannuspaikat/selaa", "503", 2],
        ["GET", "kustannuspaikat/selaa", "none", 1],
    ]
    assert report.failed_calls == 3


def test_cheapest_package_for_heavy_use(engine):
    with engine.begin() as conn:
        put_calls(conn, "acme", [(datetime(2025, 6, 3, tzinfo=HKI), "GET", "r", 200, "n", 4000)])
    report = usage_report(engine, make_account(package="standard"), now=NOW)
    assert report.projected == 20_000
    costs = {p.name: p.cost_eur for p in report.package_costs}
    assert costs["standard"] == Decimal("900.00")  # 18,000 × 0.05
    assert costs["normal"] == Decimal("450.00")
    assert report.cheapest is not None and report.cheapest.name == "normal"


@pytest.mark.parametrize(
    ("projected", "level"),
    [(0, "ok"), (1599, "ok"), (1600, "warn"), (1999, "warn"), (2000, "over")],
)
def test_warning_levels(projected, level):
    assert warning_level(projected, 2000) == level


def test_json_png_and_html(ledger, tmp_path):
    report = usage_report(ledger, make_account(), now=NOW)
    data = json.loads(report.to_json())
    assert set(data) >= {
        "account",
        "package",
        "cycle",
        "used",
        "failed_calls",
        "projected",
        "level",
        "cost_so_far_eur",
        "projected_cost_eur",
        "cheapest_package",
        "runs_out_on",
        "settings",
        "packages",
        "by_day",
        "by_route",
        "by_trigger",
        "by_status",
        "failed",
    }
    assert data["used"] == 600 and data["projected"] == 3000
    assert data["projected_cost_eur"] == "50.00"
    assert (data["cheapest_package"], data["runs_out_on"]) == ("normal", "2025-06-20")
    assert data["packages"][0] == {
        "name": "standard",
        "label": "Standard",
        "included_calls": 2000,
        "ceiling_calls": 2000,
        "cost_eur": "50.00",
        "fits": False,
    }
    assert data["settings"]["budget.on_drift"] == "locate"
    assert data["cycle"]["start"] == "2025-06-01T00:00:00+03:00"
    assert data["by_day"][0] == {"day": "2025-06-01", "calls": 100, "cumulative": 100}
    assert data["by_route"][0] == {
        "method": "POST",
        "route": "kohteet/{kohde_id}/selaa",
        "calls": 480,
        "failed": 0,
    }
    assert data["failed"][1] == {
        "method": "GET",
        "route": "kustannuspaikat/selaa",
        "status": "none",
        "calls": 1,
    }
    png = render_png(report, tmp_path / "out" / "usage.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    page = render_html(report, tmp_path / "usage.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page and "kohteet/{kohde_id}/selaa" in page


def test_empty_ledger(engine):
    report = usage_report(engine, make_account(), now=datetime(2025, 6, 1, 8, tzinfo=UTC))
    assert (report.used, report.projected, report.level) == (0, 0, "ok")
    assert report.by_day["calls"].tolist() == [0]
    assert json.loads(report.to_json())["failed"] == []
