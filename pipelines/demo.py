"""`tampuuri-sync demo`: the main job end to end on embedded defaults.

Starts embedded PostgreSQL and the simulator (two accounts), migrates, runs a full sync,
makes changes, inserts and deletes in the simulator, runs an incremental sync, and prints
what changed, the calls used against each account's package and how to connect.
"""

from __future__ import annotations

import time

import httpx
from rich.table import Table
from sqlalchemy import Engine, text

from pipelines.console import console, print_errors, progress_for, summary_table
from pipelines.local_stack import DEMO_ACCOUNTS, DEMO_PACKAGES, local_stack
from pipelines.settings import load_accounts
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import SyncReport
from pipelines.warehouse.engine import make_engine, redacted, to_libpq_url
from pipelines.warehouse.migrations import upgrade

CHANGES_PER_ACCOUNT = 60
TABLES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")
CALLS_BY_ACCOUNT = text(
    "SELECT account, count(*) AS calls, count(*) FILTER (WHERE status IS NULL OR status >= 400)"
    " AS failed FROM ops.api_calls GROUP BY account ORDER BY account"
)
ROWS_BY_TABLE = {
    table: text(
        "SELECT count(*) FILTER (WHERE deleted_at IS NULL),"
        f" count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM tampuuri.{table}"
        # identifiers from the constant TABLES only
    )
    for table in TABLES
}


def run_demo(*, scale: int) -> int:
    started = time.monotonic()
    console.rule("tampuuri-sync demo")
    with local_stack(database="tampuuri_demo", scale=scale) as stack:
        console.print(f"simulator:  {stack.api_url}/v10/api/ (accounts {', '.join(DEMO_ACCOUNTS)})")
        console.print(f"warehouse:  {redacted(stack.database_url)}")
        engine = make_engine(stack.database_url)
        upgrade(engine)
        accounts = load_accounts(stack.environ)

        console.rule("1. full sync")
        full = _sync_all(engine, accounts, stack.environ, full=True)
        console.print(summary_table(full, "Full sync"))
        _print_row_counts(engine)

        console.rule("2. changes in Tampuuri (the simulator)")
        with httpx.Client(base_url=stack.api_url, timeout=30) as admin:
            for account in DEMO_ACCOUNTS:
                answer = (
                    admin.post(
                        "/_sim/changes/random",
                        json={"account": account, "count": CHANGES_PER_ACCOUNT, "seed": 11},
                    )
                    .raise_for_status()
                    .json()
                )
                kinds: dict[str, int] = {}
                for change in answer["changes"]:
                    key = f"{change['resource']} {change['op']}"
                    kinds[key] = kinds.get(key, 0) + 1
                console.print(
                    f"{account}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                )

        console.rule("3. incremental sync")
        incremental = _sync_all(engine, accounts, stack.environ, full=False)
        console.print(summary_table(incremental, "Incremental sync"))
        console.rule("4. full sync (finds deletions everywhere)")
        again = _sync_all(engine, accounts, stack.environ, full=True)
        console.print(summary_table(again, "Full sync after changes"))
        _print_row_counts(engine)
        _print_calls(engine)
        print_errors(full + incremental + again)
        ok = all(r.ok for r in full + incremental + again)

    console.rule("connect to the warehouse")
    console.print(
        "The embedded server keeps running; connect with\n"
        f"  psql '{to_libpq_url(stack.database_url)}'\n"
        "and try:  SELECT * FROM bi.open_notices;"
    )
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


def _sync_all(engine: Engine, accounts, environ, *, full: bool) -> list[SyncReport]:  # type: ignore[no-untyped-def]
    reports = []
    for account in accounts:
        with progress_for(account.name) as listener:
            reports.append(
                run_sync(
                    engine,
                    SyncRequest(account, full=full, trigger="demo"),
                    environ=environ,
                    progress=listener,
                )
            )
    return reports


def _print_row_counts(engine: Engine) -> None:
    table = Table(title="Warehouse rows")
    table.add_column("table")
    table.add_column("active", justify="right")
    table.add_column("soft-deleted", justify="right")
    with engine.connect() as conn:
        for name, statement in ROWS_BY_TABLE.items():
            active, deleted = conn.execute(statement).one()
            table.add_row(f"tampuuri.{name}", str(active), str(deleted))
    console.print(table)


def _print_calls(engine: Engine) -> None:
    from pipelines.budget.packages import load_packages

    packages = load_packages()
    table = Table(title="API calls this run against each account's monthly package")
    for column in ("account", "package", "calls", "failed", "included", "used"):
        table.add_column(column, justify="left" if column in {"account", "package"} else "right")
    with engine.connect() as conn:
        for account, calls, failed in conn.execute(CALLS_BY_ACCOUNT):
            package = packages[DEMO_PACKAGES[account]]
            share = 100.0 * calls / package.included_calls
            table.add_row(
                account,
                package.label,
                str(calls),
                str(failed),
                f"{package.included_calls:,}",
                f"{share:.1f} %",
            )
    console.print(table)
