"""`budget` in the terminal: per account the headline figures (calls so far, forecast,
the day the package runs out, the cheapest package that fits), the settings that shape
spending, and the calls by day, trigger and status: exact counts of a crafted ledger."""

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from pipelines.budget.report import usage_report
from pipelines.budget.report_text import report_tables

from .helpers import make_account, put_calls

HKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2025, 6, 4, 12, tzinfo=HKI)  # 3.5 days of a 30-day June


def _at(day: int, hour: int = 3) -> datetime:
    return datetime(2025, 6, day, hour, tzinfo=HKI)


# (sent_at, method, route, status, trigger, count): 16 calls, 4 of them failed.
CALLS = [
    (_at(1), "GET", "kustannuspaikat/selaa", 200, "nightly", 5),
    (_at(1), "GET", "kustannuspaikat/selaa", 503, "nightly", 2),
    (_at(2), "GET", "osapuolet/yhteydet/selaa", 200, "webhook", 3),
    (_at(2), "GET", "osapuolet/yhteydet/selaa", None, "webhook", 1),
    (_at(3), "POST", "kohteet/{kohde_id}/selaa", 200, "reconcile", 4),
    (_at(3), "GET", "ilmoitukset/selaa", 404, "probe", 1),
]


def _rendered(table) -> list[str]:
    console = Console(file=io.StringIO(), width=160, color_system=None)
    console.print(table)
    return console.file.getvalue().splitlines()


def _rows(table) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in _rendered(table)
        if line.startswith("│")
    ]


@pytest.fixture
def tables(engine):
    with engine.begin() as conn:
        put_calls(conn, "acme", CALLS)
        put_calls(conn, "acme", [(_at(4, 13), "GET", "x", 200, "nightly", 9)])  # after now
    report = usage_report(engine, make_account(), now=NOW)
    return {t.title.split(": ", 1)[1]: t for t in report_tables(report)}


def test_breakdowns_by_day_trigger_and_status(tables):
    assert _rows(tables["calls by day"]) == [
        ["2025-06-01", "7", "7"],
        ["2025-06-02", "4", "11"],
        ["2025-06-03", "5", "16"],
        ["2025-06-04", "0", "16"],
    ]
    assert _rows(tables["calls by trigger"]) == [
        ["nightly", "7"],
        ["reconcile", "4"],
        ["webhook", "4"],
        ["probe", "1"],
    ]
    assert _rows(tables["calls by status"]) == [
        ["200", "12"],
        ["404", "1"],
        ["503", "2"],
        ["none", "1"],
    ]
    assert _rows(tables["calls by route"])[0] == ["GET", "kustannuspaikat/selaa", "7", "2"]


def test_headline_figures(tables):
    summary = dict(_rows(tables["calls 2025-06"]))
    assert summary["package"] == "Standard: 2,000 calls included, ceiling 2,000"
    assert summary["calls so far"] == (
        "16 (4 failed), 2025-06-01 to 2025-06-04 12:00 Europe/Helsinki"
    )
    # 16 calls in 3.5 of 30 days: ceil(16 × 30 / 3.5) = 138.
    assert summary["forecast for the cycle"] == (
        "138 calls by 2025-06-30 (ok: 7% of the included calls)"
    )
    assert summary["forecast method"].startswith("linear: calls so far ÷ elapsed cycle time")
    assert summary["package runs out"] == (
        "not this cycle at the current rate (the included calls last the cycle)"
    )
    assert summary["cheapest package that fits"] == (
        "Standard (2,000 included, ceiling 2,000): 0.00 € for the forecast"
    )


def test_settings_that_shape_spending(tables):
    (title,) = [t for t in tables if t.startswith("Settings that shape spending")]
    assert title.endswith("(accounts file and its profile)")
    settings = {row[0]: row[1] for row in _rows(tables[title])}
    assert settings == {
        "profile": "default",
        "profile.webhook_window_s": "0.0",
        "webhooks": "False",
        "budget.reserve_for_webhooks": "0.1",
        "budget.ceiling": "package",
        "budget.full_scan_period_days": "7",
        "budget.list_rescan_period_days": "7",
        "budget.on_drift": "locate",
    }


def test_a_404_proving_a_deletion_is_billed_but_not_failed(engine):
    # The detail route's 404 is how a sync proves a row deleted (the demo counts it apart).
    with engine.begin() as conn:
        put_calls(conn, "acme", [(_at(1), "GET", "ilmoitukset/{id}", 404, "nightly", 2)])
        put_calls(conn, "acme", [(_at(1), "GET", "ilmoitukset/selaa", 404, "nightly", 1)])
    report = usage_report(engine, make_account(), now=NOW)
    assert report.used == 3
    assert report.failed_calls == 1  # the list route's 404 is a failure
    tables = {t.title.split(": ", 1)[1]: t for t in report_tables(report)}
    assert ["GET", "ilmoitukset/{id}", "2", "0"] in _rows(tables["calls by route"])
    assert ["404", "3"] in _rows(tables["calls by status"])
