"""The operations views: data freshness per account and resource (state, runs, active
rows; parties take the links' state), and API calls per Helsinki day with the month's
running count and cost on the account's package (ops.account_packages, migration 0004)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from .seed import add_cost_centre, add_object, add_party

A, B = "yritys-a", "yritys-b"


def _call(
    conn,
    account,
    sent_at,
    *,
    status=200,
    route="kohteet/{kohde_id}/selaa",
    method="POST",
    trigger="nightly",
    duration_ms=100,
):
    conn.execute(
        text(
            "INSERT INTO ops.api_calls (account, sent_at, method, route, status,"
            " duration_ms, trigger, run_id) VALUES (:a, :t, :m, :r, :s, :d, :tr, 'run-1')"
        ),
        {
            "a": account,
            "t": sent_at,
            "m": method,
            "r": route,
            "s": status,
            "d": duration_ms,
            "tr": trigger,
        },
    )


def test_calls_and_cost_per_day(engine):
    utc = UTC
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.account_packages (account, package, included_calls,"
                " monthly_fee_eur, overage_eur_per_call) VALUES (:a, 'tiny', 5, 450, 0.02)"
            ),
            {"a": A},
        )
        # 30 March: 3 calls (one 500, one transport error); 31 March: 4 calls, the last at
        # 23:30 UTC, which is already 1 April 02:30 in Helsinki (EEST, +3).
        for hour, status in [(8, 200), (9, 500), (10, None)]:
            _call(conn, A, datetime(2025, 3, 30, hour, tzinfo=utc), status=status)
        for hour in (8, 9, 10):
            _call(conn, A, datetime(2025, 3, 31, hour, tzinfo=utc))
        _call(
            conn,
            A,
            datetime(2025, 3, 31, 12, tzinfo=utc),
            status=429,
            route="ilmoitukset/selaa",
            method="GET",
            trigger="webhook",
            duration_ms=301,
        )
        _call(conn, A, datetime(2025, 3, 31, 23, 30, tzinfo=utc))
        _call(conn, A, datetime(2025, 4, 2, 9, tzinfo=utc))
        _call(conn, B, datetime(2025, 3, 30, 9, tzinfo=utc))  # no package row

    with engine.connect() as conn:
        daily = conn.execute(
            text(
                "SELECT account, day, month, calls, failed_calls, calls_month_to_date,"
                " package, included_calls_left, overage_calls, overage_cost_eur,"
                " cost_month_to_date_eur FROM bi.api_calls_daily ORDER BY account, day"
            )
        ).all()
        routes = conn.execute(
            text(
                "SELECT day, method, route, trigger, calls, failed_calls, rate_limited_calls,"
                " avg_duration_ms FROM bi.api_calls_by_route_daily"
                " WHERE account = :a ORDER BY day, route"
            ),
            {"a": A},
        ).all()

    d, mar, apr = Decimal, datetime(2025, 3, 1).date(), datetime(2025, 4, 1).date()
    day = lambda n, m=3: datetime(2025, m, n).date()  # noqa: E731
    assert [tuple(r) for r in daily] == [
        (A, day(30), mar, 3, 2, 3, "tiny", 2, 0, d("0.00"), d("450.00")),
        (A, day(31), mar, 4, 1, 7, "tiny", 0, 2, d("0.04"), d("450.04")),
        (A, day(1, 4), apr, 1, 0, 1, "tiny", 4, 0, d("0.00"), d("450.00")),
        (A, day(2, 4), apr, 1, 0, 2, "tiny", 3, 0, d("0.00"), d("450.00")),
        (B, day(30), mar, 1, 0, 1, None, None, None, None, None),
    ]
    assert routes == [
        (day(30), "POST", "kohteet/{kohde_id}/selaa", "nightly", 3, 2, 0, 100),
        (day(31), "GET", "ilmoitukset/selaa", "webhook", 1, 1, 1, 301),
        (day(31), "POST", "kohteet/{kohde_id}/selaa", "nightly", 3, 0, 0, 100),
        (day(1, 4), "POST", "kohteet/{kohde_id}/selaa", "nightly", 1, 0, 0, 100),
        (day(2, 4), "POST", "kohteet/{kohde_id}/selaa", "nightly", 1, 0, 0, 100),
    ]


def test_data_freshness(engine):
    with engine.begin() as conn:
        now = conn.execute(text("SELECT now()")).scalar_one()
        hours = lambda n: now - timedelta(hours=n)  # noqa: E731
        add_cost_centre(conn, A, 1, "As Oy Koivu")
        add_cost_centre(conn, A, 2, "As Oy Vaahtera")
        add_object(conn, A, 51, cost_centre=1)
        add_object(conn, A, 52, cost_centre=2)
        add_object(conn, A, 53, cost_centre=2, deleted=True)
        add_party(
            conn,
            A,
            900,
            "Matti",
            turvakielto=False,
            katuosoite="x",
            puhelin="1",
            sahkoposti="m@example.fi",
        )
        state = [
            ("kustannuspaikat", "", hours(2)),
            ("kohteet", "1", hours(3)),
            ("kohteet", "2", hours(27)),
            ("kohteet", "3", None),
            ("osapuoli_yhteydet", "", hours(5)),
        ]
        for resource, scope, success in state:
            conn.execute(
                text(
                    "INSERT INTO ops.sync_state (account, resource, scope, last_success_at)"
                    " VALUES (:a, :r, :s, :t)"
                ),
                {"a": A, "r": resource, "s": scope, "t": success},
            )
        runs = [
            ("r1", "kohteet", "success", hours(4), hours(3)),
            ("r2", "kohteet", "failed", hours(1), hours(0.5)),
            ("r1", "kustannuspaikat", "success", hours(2.5), hours(2)),
            ("r2", "ilmoitukset", "running", hours(0.2), None),
        ]
        for run_id, resource, status, started, finished in runs:
            conn.execute(
                text(
                    "INSERT INTO ops.sync_runs (run_id, account, resource, trigger, mode,"
                    " status, started_at, finished_at) VALUES (:id, :a, :r, 'nightly',"
                    " 'incremental', :s, :st, :f)"
                ),
                {"id": run_id, "a": A, "r": resource, "s": status, "st": started, "f": finished},
            )

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT resource, last_success_at, stalest_scope_success_at, age_hours,"
                " scopes, scopes_never_synced, last_run_status, active_rows"
                " FROM bi.data_freshness WHERE account = :a ORDER BY resource"
            ),
            {"a": A},
        ).all()
    d = Decimal
    assert rows == [
        ("ilmoitukset", None, None, None, 0, 0, "running", 0),
        ("kohteet", hours(3), hours(27), d("3.0"), 3, 1, "failed", 2),
        ("kustannuspaikat", hours(2), hours(2), d("2.0"), 1, 0, "success", 2),
        ("osapuolet", hours(5), hours(5), d("5.0"), 1, 0, None, 1),
        ("osapuoli_yhteydet", hours(5), hours(5), d("5.0"), 1, 0, None, 0),
    ]
