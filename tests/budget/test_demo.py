"""`tampuuri-sync demo` tells a newcomer the truth (pipelines/demo.py), run against the
simulator over HTTP and a real warehouse: links and parties are counted apart, the full
sync after the incremental one finds exactly the deletions an incremental sync cannot see,
each sync's calls are shown on their own (equal to the ledger), and the lines the demo
prints at its end make `budget` and `plan` work on the demo's warehouse and accounts."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from pipelines import demo
from pipelines.budget.cli import budget_command, plan_command
from pipelines.local_stack import DEMO_ACCOUNTS, LocalStack, write_accounts_file
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread

SCALE = 300


def _sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=7, scale=SCALE, accounts=DEMO_ACCOUNTS))


def _cells(text: str, start: str) -> list[list[str]]:
    """The cells of every table row whose first cells read `start` (e.g. "demo-a │ x"),
    or of every row."""
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in text.splitlines()]
    wanted = [c.strip() for c in start.split("│")] if start else []
    return [row for row in rows if row and row[: len(wanted)] == wanted]


@pytest.fixture
def demo_run(engine, warehouse_url, tmp_path, capsys):
    sim = _sim()
    with serve_in_thread(sim) as api_url:
        path, environ = write_accounts_file(sim, api_url, tmp_path)
        stack = LocalStack(sim, api_url, warehouse_url, environ, path)
        steps = demo.demo_steps(engine, stack)
        demo.print_next_steps(stack)
    return steps, capsys.readouterr().out


def test_the_demo_counts_reads_deletions_and_calls_as_they_are(engine, demo_run):
    steps, out = demo_run
    before = _sim()  # the same seed: the data the first full sync read
    _, incremental, again = steps
    assert [s.title for s in steps] == ["1. full", "3. incremental", "4. full"]
    assert all(r.ok for s in steps for r in s.reports)

    # Full sync: one row per warehouse table, each with its own count.
    first = out[: out.index("2. changes")]
    for account in DEMO_ACCOUNTS:
        links = len(before.items(account, "osapuoli_yhteydet"))
        parties = len(before.items(account, "osapuolet"))
        (link_row,) = _cells(first, f"{account} │ osapuolet: links")
        (party_row,) = _cells(first, f"{account} │ osapuolet: parties")
        assert link_row[4] == str(links) and party_row[4] == str(parties)

    # Step 4 finds the deleted notices, and says what it found from its own counts.
    assert "4. full sync: what an incremental sync cannot see" in out
    deleted = {
        r.account: {x.resource: x.counts.deleted for x in r.resources} for r in again.reports
    }
    assert deleted == {
        # The demo accounts opt in to the three opt-in resources too (pipelines/local_stack.py).
        a: {"kustannuspaikat": 0, "kohteet": 0, "osapuolet": 0, "ilmoitukset": 2}
        | {"vuokrasopimukset": 0, "asuntotarkastukset": 0, "huoltokirjan_tehtavat": 0}
        for a in DEMO_ACCOUNTS
    }
    assert all(
        x.counts.inserted == x.counts.updated == 0 for r in again.reports for x in r.resources
    )
    assert "The full sync soft-deleted 4 row(s); 4 row(s) of ilmoitukset had been deleted" in out
    assert "Every other change had already arrived with the incremental sync." in out
    for report in incremental.reports:  # a change-since scan cannot see them
        assert report.resource("ilmoitukset").counts.deleted == 0

    # Calls: each sync on its own, the total against the package, all as in the ledger.
    table = out[out.index("API calls per sync") :]
    for account in DEMO_ACCOUNTS:
        per_step = [next(r.calls for r in s.reports if r.account == account) for s in steps]
        (row,) = _cells(table, account)
        # 1. full, 3. incremental, 4. full, total, 404 (the deleted notices' proofs), failed
        assert row[2:6] == [*(str(n) for n in per_step), str(sum(per_step))]
        assert int(row[6]) >= demo.DELETED_ROWS and row[7] == "0"


def test_the_lines_the_demo_ends_with_make_budget_and_plan_work(
    demo_run, engine, monkeypatch
) -> None:
    steps, out = demo_run
    tail = out[out.index("what to run next") :]
    exports = re.findall(r"^\s*export (TAMPUURI_\w+)='([^']+)'$", tail, re.MULTILINE)
    assert [name for name, _ in exports] == ["TAMPUURI_DATABASE_URL", "TAMPUURI_ACCOUNTS_FILE"]
    assert ".venv/bin/tampuuri-sync budget" in tail and ".venv/bin/tampuuri-sync plan" in tail
    # A new shell: only what the demo printed (no simulator credentials, no other URL).
    for name in [n for n in os.environ if n.startswith(("TAMPUURI_", "DEMO_"))]:
        monkeypatch.delenv(name)
    for name, value in exports:
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def command(function):
        app = typer.Typer()
        app.command()(function)
        return app

    budget = runner.invoke(command(budget_command), ["--json"])
    assert budget.exit_code == 0, budget.output
    used = {r["account"]: r["used"] for r in json.loads(budget.output)["reports"]}
    assert used == {
        a: sum(r.calls for s in steps for r in s.reports if r.account == a) for a in DEMO_ACCOUNTS
    }
    plan = runner.invoke(command(plan_command), ["--json"])
    assert plan.exit_code == 0, plan.output
    plans = json.loads(plan.output)["plans"]
    assert [p["account"] for p in plans] == list(DEMO_ACCOUNTS)
    assert all(p["calls"] > 0 for p in plans)


def test_the_changes_are_shown_per_table_and_account() -> None:
    made = {
        "demo-a": [("ilmoitukset", "update"), ("kohteet", "update"), ("ilmoitukset", "insert")],
        "demo-b": [("ilmoitukset", "delete")],
    }
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(demo.changes_table(made))
    rows = {row[0]: row[1:] for row in _cells(out.getvalue(), "")}
    assert rows["tampuuri.ilmoitukset"] == ["1 inserted, 1 updated", "1 deleted"]
    assert rows["tampuuri.kohteet"] == ["1 updated", "-"]
