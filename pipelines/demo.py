"""`tampuuri-sync demo`: the main job end to end on embedded defaults.

Starts embedded PostgreSQL and the simulator (two accounts), migrates, runs a full sync,
makes changes, inserts and deletes in the simulator, runs an incremental sync, then a full
one that finds the deletions an incremental sync cannot see, and prints what changed, the
calls each sync spent against each account's package, and what to run next.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
from rich.table import Table
from sqlalchemy import Engine, text

from pipelines.console import console, print_errors, progress_for, summary_table
from pipelines.demo_scenario import (
    deletion_blind,
    incremental_sentence,
    rows_statement,
    synced_tables,
)
from pipelines.local_stack import DEMO_ACCOUNTS, DEMO_PACKAGES, LocalStack, local_stack
from pipelines.settings import AccountConfig, load_accounts
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import SyncReport
from pipelines.warehouse.engine import make_engine, redacted, to_libpq_url
from pipelines.warehouse.migrations import upgrade

CHANGES_PER_ACCOUNT = 60
# Rows deleted per account on top of the random changes, in a resource whose deletions
# send no webhook and do not show in its change-since list (`deletion_blind`): only a full
# scan finds them.
DELETED_ROWS = 2
# A 404 from a detail route is how a sync proves a row deleted: billed, but no failure.
CALLS_BY_RUN = text(
    "SELECT account, run_id, count(*) AS calls,"
    " count(*) FILTER (WHERE status = 404) AS proofs,"
    " count(*) FILTER (WHERE status IS NULL OR (status >= 400 AND status <> 404)) AS failed"
    " FROM ops.api_calls GROUP BY account, run_id"
)


_OP_WORDS = {"insert": "inserted", "update": "updated", "delete": "deleted"}


@dataclass(frozen=True)
class Step:
    """One sync of the demo over every account."""

    title: str
    reports: list[SyncReport]


def run_demo(*, scale: int) -> int:
    started = time.monotonic()
    console.rule("tampuuri-sync demo")
    with local_stack(database="tampuuri_demo", scale=scale) as stack:
        console.print(f"simulator:  {stack.api_url}/v10/api/ (accounts {', '.join(DEMO_ACCOUNTS)})")
        console.print(f"warehouse:  {redacted(stack.database_url)}")
        engine = make_engine(stack.database_url)
        try:
            upgrade(engine)
            steps = demo_steps(engine, stack)
        finally:
            engine.dispose()
    print_next_steps(stack)
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    return 0 if all(r.ok for step in steps for r in step.reports) else 1


def demo_steps(engine: Engine, stack: LocalStack) -> list[Step]:
    """The demo's syncs and changes against a migrated warehouse and a running simulator."""
    accounts = load_accounts(stack.environ)
    console.rule("1. full sync")
    full = Step("1. full", _sync_all(engine, accounts, stack.environ, full=True))
    console.print(summary_table(full.reports, "Full sync"))
    _print_row_counts(engine, accounts)

    console.rule("2. changes in Tampuuri (the simulator)")
    blind = deletion_blind(accounts)
    deleted = make_changes(stack.api_url, blind)
    console.print(
        f"The {DELETED_ROWS} rows of {blind} deleted per account send no webhook and do not"
        " show in a change-since list: only a full scan finds them."
    )

    console.rule("3. incremental sync")
    incremental = Step("3. incremental", _sync_all(engine, accounts, stack.environ, full=False))
    console.print(summary_table(incremental.reports, "Incremental sync"))
    console.print(incremental_sentence(accounts))

    console.rule("4. full sync: what an incremental sync cannot see")
    again = Step("4. full", _sync_all(engine, accounts, stack.environ, full=True))
    console.print(summary_table(again.reports, "Full sync after the changes"))
    console.print(full_sync_verdict(again.reports, deleted, blind))
    _print_row_counts(engine, accounts)
    steps = [full, incremental, again]
    console.print(calls_table(engine, steps))
    print_errors([r for step in steps for r in step.reports])
    return steps


def make_changes(api_url: str, blind: str) -> dict[str, int]:
    """Random changes and `DELETED_ROWS` deletions of `blind` rows per account, through
    the simulator's admin API; prints them and returns the rows deleted per account."""
    deleted: dict[str, int] = {}
    made: dict[str, list[tuple[str, str]]] = {}
    with httpx.Client(base_url=api_url, timeout=30) as admin:
        for account in DEMO_ACCOUNTS:
            answer = admin.post(
                "/_sim/changes/random",
                json={"account": account, "count": CHANGES_PER_ACCOUNT, "seed": 11},
            )
            changes = [
                (c["resource"], c["op"]) for c in answer.raise_for_status().json()["changes"]
            ]
            notices = admin.get(f"/_sim/state/{account}/{blind}").raise_for_status().json()
            for item in notices["Items"][:DELETED_ROWS]:
                admin.post(
                    "/_sim/changes",
                    json={"account": account, "resource": blind, "op": "delete",
                          "id": item["Id"]},
                ).raise_for_status()  # fmt: skip
                changes.append((blind, "delete"))
            deleted[account] = min(DELETED_ROWS, len(notices["Items"]))
            made[account] = changes
    console.print(changes_table(made))
    return deleted


def changes_table(made: Mapping[str, Sequence[tuple[str, str]]]) -> Table:
    """Per table and account, e.g. "15 inserted, 21 updated, 2 deleted"."""
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for account, changes in made.items():
        for table_name, op in changes:
            ops = counts.setdefault(table_name, {}).setdefault(account, {})
            ops[op] = ops.get(op, 0) + 1
    table = Table()  # under the step's own heading
    table.add_column("table")
    for account in made:
        table.add_column(account)
    for table_name, by_account in sorted(counts.items()):
        cells = [by_account.get(account, {}) for account in made]
        table.add_row(
            f"tampuuri.{table_name}",
            *(", ".join(f"{ops[op]} {word}" for op, word in _OP_WORDS.items() if op in ops) or "-"
              for ops in cells),
        )  # fmt: skip
    return table


def full_sync_verdict(reports: Sequence[SyncReport], deleted: Mapping[str, int], blind: str) -> str:
    """What the full sync after the incremental one found, said from its own counts."""
    found = sum(r.counts.deleted for report in reports for r in report.resources)
    missed = sum(
        r.counts.inserted + r.counts.updated for report in reports for r in report.resources
    )
    expected = sum(deleted.values())
    lines = [
        f"The full sync soft-deleted {found} row(s); {expected} row(s) of {blind} had been"
        " deleted where no incremental sync could see them."
    ]
    lines.append(
        "Every other change had already arrived with the incremental sync."
        if missed == 0
        else f"It also wrote {missed} new or changed row(s) the incremental sync had not seen."
    )
    return "\n".join(lines)


def _sync_all(
    engine: Engine, accounts: Sequence[AccountConfig], environ: Mapping[str, str], *, full: bool
) -> list[SyncReport]:
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


def _print_row_counts(engine: Engine, accounts: Sequence[AccountConfig]) -> None:
    table = Table(title="Warehouse rows (both accounts)")
    table.add_column("table")
    table.add_column("active", justify="right")
    table.add_column("soft-deleted", justify="right")
    with engine.connect() as conn:
        for name in synced_tables(accounts):
            active, deleted = conn.execute(rows_statement(name)).one()
            table.add_row(f"tampuuri.{name}", str(active), str(deleted))
    console.print(table)


def calls_table(engine: Engine, steps: Sequence[Step]) -> Table:
    """Calls per account and sync, from the ledger (what Tampuuri bills, failures too), and
    their total against the account's monthly package."""
    from pipelines.budget.packages import load_packages

    packages = load_packages()
    with engine.connect() as conn:
        by_run = {
            (a, run): (calls, proofs, failed)
            for a, run, calls, proofs, failed in conn.execute(CALLS_BY_RUN)
        }
    table = Table(
        title="API calls per sync, against each account's monthly package",
        caption="404: a detail call proving a row deleted; failed: timeouts, 429, 5xx, other"
        " 4xx (retried within the run's cap). Both are billed.",
    )
    columns = ("account", "package", *(s.title for s in steps), "total", "404", "failed")
    for column in (*columns, "included", "used"):
        table.add_column(column, justify="left" if column in {"account", "package"} else "right")
    for account in DEMO_ACCOUNTS:
        package = packages[DEMO_PACKAGES[account]]
        per_step = [
            sum(
                by_run.get((account, r.run_id), (0, 0, 0))[0]
                for r in s.reports
                if r.account == account
            )
            for s in steps
        ]
        mine = [counts for (a, _), counts in by_run.items() if a == account]
        total, proofs, failed = (sum(counts[i] for counts in mine) for i in range(3))
        table.add_row(
            account,
            package.label,
            *(str(n) for n in (*per_step, total, proofs, failed)),
            f"{package.included_calls:,}",
            f"{100.0 * total / package.included_calls:.1f} %",
        )
    return table


def next_steps(stack: LocalStack) -> list[str]:
    """The lines to paste into a shell to use the demo's warehouse and accounts."""
    return [
        f"export TAMPUURI_DATABASE_URL='{to_libpq_url(stack.database_url)}'",
        f"export TAMPUURI_ACCOUNTS_FILE='{stack.accounts_file}'",
    ]


def print_next_steps(stack: LocalStack) -> None:
    console.rule("what to run next")
    console.print(
        "The demo's warehouse and accounts stay (the embedded PostgreSQL keeps running)."
        " In your shell:"
    )
    # Commands to paste: never wrapped, whatever the terminal's width (a long URL stays whole).
    console.print(
        "".join(f"  {line}\n" for line in next_steps(stack))
        + "  .venv/bin/tampuuri-sync budget     # the calls above, against each package\n"
        "  .venv/bin/tampuuri-sync plan       # what the next sync would cost\n"
        '  psql "$TAMPUURI_DATABASE_URL" -c "SELECT * FROM bi.open_notices"\n'
        "  .venv/bin/tampuuri-sync db stop    # stop the embedded PostgreSQL when done",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )
    console.print(
        "The simulator stopped with the demo, so `sync` and `plan --probe` have no API to call"
        " now: `make ui` (in a shell without these two variables) starts it again under"
        " Dagster, and README.md says how to use real accounts."
    )
