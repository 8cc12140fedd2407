"""Shared helpers for sync tests: accounts pointing at an in-process simulator, parity checks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from pipelines.budget.packages import BillingCycle
from pipelines.settings import AccountConfig
from pipelines.simulator import Simulator
from pipelines.tampuuri import json_codec

TABLES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")
SIM_BASE_URL = "http://sim/v10/api/"


def account_for(
    sim: Simulator, name: str, base_url: str = SIM_BASE_URL, **extra
) -> tuple[AccountConfig, dict[str, str]]:
    """An AccountConfig for a simulator account and the environment holding its secrets."""
    prefix = name.upper().replace("-", "_")
    creds = sim.credentials(name)
    variables = {
        key: f"{prefix}_{key.upper()}"
        for key in ("api_key", "customer_name", "account_name", "username", "password")
    }
    environ = {variables[key]: getattr(creds, key) for key in variables}
    account = AccountConfig.model_validate(
        {"name": name, "base_url": base_url, "credentials": variables, **extra}
    )
    return account, environ


def warehouse_rows(
    engine: Engine, account: str, table: str, *, active: bool = True
) -> dict[int, dict]:
    condition = "deleted_at IS NULL" if active else "deleted_at IS NOT NULL"
    with engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT id, data::text FROM tampuuri.{table} WHERE account = :a AND {condition}"),
            {"a": account},
        ).all()
    return {row_id: json_codec.decode(data) for row_id, data in rows}  # exact decimals


def run_times(engine: Engine, run_id: str) -> list[tuple[str, datetime, datetime]]:
    """Each resource of a run with when it started and finished, in the order they started."""
    statement = text(
        "SELECT resource, started_at, finished_at FROM ops.sync_runs"
        " WHERE run_id = :run_id ORDER BY started_at"
    )
    with engine.connect() as conn:
        return [(row[0], row[1], row[2]) for row in conn.execute(statement, {"run_id": run_id})]


def assert_parity(engine: Engine, sim: Simulator, account: str) -> None:
    """The warehouse's active rows equal the simulator's current rows (ids and data).

    Parties reach the warehouse through links; a party whose links all ended is still a
    live party (the batch route confirms it), so the warehouse may keep parties the
    simulator lists as not visible, as long as they still exist with the same data.
    """
    for table in TABLES:
        expected = {item["Id"]: item for item in sim.items(account, table)}
        actual = warehouse_rows(engine, account, table)
        if table == "osapuolet":
            existing = {i["Id"]: i for i in sim.items(account, table, visible_only=False)}
            assert set(expected) <= set(actual), (
                f"{table}: missing {sorted(set(expected) - set(actual))[:5]}"
            )
            extra = set(actual) - set(expected)
            assert extra <= set(existing), (
                f"{table}: deleted parties still active {sorted(extra - set(existing))[:5]}"
            )
            expected = {i: existing[i] for i in actual}
        assert set(actual) == set(expected), (
            f"{table}: missing {sorted(set(expected) - set(actual))[:5]}, "
            f"extra {sorted(set(actual) - set(expected))[:5]}"
        )
        for row_id, item in expected.items():
            assert actual[row_id] == item, f"{table} {row_id} differs"


def ledger_total(engine: Engine, account: str | None = None) -> int:
    with engine.connect() as conn:
        if account is None:
            return conn.execute(text("SELECT count(*) FROM ops.api_calls")).scalar_one()
        return conn.execute(
            text("SELECT count(*) FROM ops.api_calls WHERE account = :a"), {"a": account}
        ).scalar_one()


def ledger_by_key(engine: Engine) -> dict[tuple, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT account, method, route, status, count(*) FROM ops.api_calls"
                " GROUP BY 1, 2, 3, 4"
            )
        ).all()
    return {(a, m, r, s): n for a, m, r, s, n in rows}


def sim_by_key(sim: Simulator, account_names: Mapping[str, str] | None = None) -> dict[tuple, int]:
    return {
        (row["account"], row["method"], row["route"], row["status"]): row["count"]
        for row in sim.transactions()
    }


def minimum_full_sync_calls(sim: Simulator, account: str, page_size: int = 250) -> int:
    """The fewest calls a full sync can make: ceil(Total/250), at least 1, per list scan."""

    def pages(total: int) -> int:
        return max(1, math.ceil(total / page_size))

    cost_centres = sim.items(account, "kustannuspaikat")
    objects = sim.items(account, "kohteet")
    per_cc: dict[int, int] = {cc["Id"]: 0 for cc in cost_centres}
    for obj in objects:
        per_cc[obj["KustannuspaikkaId"]] = per_cc.get(obj["KustannuspaikkaId"], 0) + 1
    return (
        pages(len(cost_centres))
        + sum(pages(n) for n in per_cc.values())
        + pages(len(sim.items(account, "osapuoli_yhteydet")))
        + pages(len(sim.items(account, "ilmoitukset")))
    )


def fill_ledger(engine: Engine, account: str, calls: int) -> None:
    """Record `calls` crafted calls of `account` in this billing cycle (a spent package)."""
    now = datetime.now(UTC)
    start = BillingCycle.containing(now).start
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.api_calls (account, sent_at, method, route, status, duration_ms,"
                " trigger) SELECT :a, :t, 'GET', 'kustannuspaikat/selaa', 200, 5, 'crafted'"
                " FROM generate_series(1, :n)"
            ),
            {"a": account, "t": max(start, now - timedelta(minutes=1)), "n": calls},
        )
