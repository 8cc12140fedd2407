"""Crafted warehouse rows for budget tests: sync_state, cost centres and ledger calls."""

from datetime import datetime

from sqlalchemy import text

from pipelines.settings import AccountConfig

CREDS = {k: "X" for k in ("api_key", "customer_name", "account_name", "username", "password")}


def make_account(name="acme", package="standard", scope=None, **budget) -> AccountConfig:
    return AccountConfig(
        name=name,
        base_url="http://tampuuri.test/v10/api/",
        package=package,
        credentials=CREDS,
        scope=scope,
        budget=budget,
    )


def put_state(conn, account, resource, scope="", *, cursor=None, last_total=None, last_full=None):
    conn.execute(
        text(
            "INSERT INTO ops.sync_state (account, resource, scope, cursor, last_total,"
            " last_full_scan_at) VALUES (:a, :r, :s, :c, :t, :f)"
        ),
        {"a": account, "r": resource, "s": scope, "c": cursor, "t": last_total, "f": last_full},
    )


def put_cost_centres(conn, account, ids, *, deleted=()):
    for cc in [*ids, *deleted]:
        conn.execute(
            text(
                "INSERT INTO tampuuri.kustannuspaikat (account, id, data, row_hash, deleted_at)"
                " VALUES (:a, :id, '{}'::jsonb, 'h', :d)"
            ),
            {"a": account, "id": cc, "d": datetime(2025, 1, 1) if cc in deleted else None},
        )


def put_calls(conn, account, rows):
    """rows: (sent_at, method, route, status, trigger, count)."""
    payload = [
        {"a": account, "t": sent_at, "m": method, "r": route, "s": status, "g": trigger}
        for sent_at, method, route, status, trigger, count in rows
        for _ in range(count)
    ]
    conn.execute(
        text(
            "INSERT INTO ops.api_calls (account, sent_at, method, route, status, duration_ms,"
            " trigger) VALUES (:a, :t, :m, :r, :s, 5, :g)"
        ),
        payload,
    )
