"""`plan` and `budget` commands: JSON output shape, the text report, and the report files
with the absolute paths they were written to, against a real warehouse named by
TAMPUURI_DATABASE_URL and an accounts file."""

import json
from datetime import UTC, datetime

import typer
from typer.testing import CliRunner

from pipelines.budget.cli import budget_command, plan_command
from pipelines.tampuuri.paging import PAGING_RULE

from .helpers import put_calls, put_cost_centres, put_state

ACCOUNTS = """
accounts:
  - name: acme
    base_url: http://tampuuri.test/v10/api/
    package: standard
    credentials: {api_key: K, customer_name: C, account_name: A, username: U, password: P}
"""


def _app(command):
    app = typer.Typer()
    app.command()(command)
    return app


def use_accounts(accounts_yaml: str, warehouse_url: str, tmp_path, monkeypatch) -> None:
    """The commands read this accounts file and this warehouse."""
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(accounts_yaml, encoding="utf-8")
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(accounts))
    monkeypatch.setenv("TAMPUURI_DATABASE_URL", warehouse_url)


def test_plan_and_budget_json(engine, warehouse_url, tmp_path, monkeypatch):
    use_accounts(ACCOUNTS, warehouse_url, tmp_path, monkeypatch)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        put_cost_centres(conn, "acme", [1, 2])
        put_state(conn, "acme", "kohteet", "1", last_total=600)
        put_calls(conn, "acme", [(now, "GET", "kustannuspaikat/selaa", 200, "nightly", 12)])
    runner = CliRunner()

    result = runner.invoke(_app(plan_command), ["--resource", "kohteet", "--json"])
    assert result.exit_code == 0, result.output
    (plan,) = json.loads(result.output)["plans"]
    assert plan["calls"] == 3 + 1 and plan["guard"]["action"] == "run"
    assert [s["calls"] for s in plan["resources"][0]["scopes"]] == [3, 1]

    html, png = tmp_path / "r.html", tmp_path / "r.png"
    result = runner.invoke(_app(budget_command), ["--json", "--html", str(html), "--png", str(png)])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)["reports"]
    assert report["account"] == "acme" and report["used"] == 12
    assert report["written"] == {"html": str(html), "png": str(png)}
    assert html.stat().st_size > 0 and png.stat().st_size > 0

    # The title names the command; each row says its mode (objects have no change-since
    # filter, so an incremental sync scans them in full): the title never claims a mode.
    table = runner.invoke(_app(plan_command), ["--account", "acme", "--resource", "kohteet"])
    assert table.exit_code == 0, table.output
    title = table.output.lstrip().splitlines()[0]
    assert title.strip() == "acme: the calls `tampuuri-sync sync` will make"
    (row,) = [line for line in table.output.splitlines() if line.startswith("│ kohteet")]
    assert row.split("│")[2].strip() == "full"
    assert "incremental sync" not in table.output  # nor does the guard's line
    assert "run: sync needs " in " ".join(table.output.split())
    # The caption states the paging rule the counts follow (600 rows: 1 + ceil(350/249) = 3).
    assert f"calls: {PAGING_RULE}" in " ".join(table.output.split())
    assert plan["paging_rule"] == PAGING_RULE
    table = runner.invoke(_app(plan_command), ["--account", "acme", "--full"])
    assert "acme: the calls `tampuuri-sync sync --full` will make" in table.output
    bad = runner.invoke(_app(plan_command), ["--resource", "nope"])
    assert bad.exit_code == 2


def test_budget_text_says_where_it_wrote(engine, warehouse_url, tmp_path, monkeypatch):
    use_accounts(ACCOUNTS, warehouse_url, tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        put_calls(conn, "acme", [(now, "GET", "kustannuspaikat/selaa", 200, "nightly", 5)])
        put_calls(conn, "acme", [(now, "GET", "kustannuspaikat/selaa", 503, "webhook", 2)])
    result = CliRunner().invoke(
        _app(budget_command), ["--html", "out/r.html", "--png", "r.png"], terminal_width=160
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"wrote the HTML report of acme: {tmp_path / 'out' / 'r.html'}" in lines
    assert f"wrote the PNG chart of acme: {tmp_path / 'r.png'}" in lines
    assert (tmp_path / "out" / "r.html").is_file() and (tmp_path / "r.png").is_file()
    for title in ("calls by day", "calls by trigger", "calls by status", "calls by route"):
        assert f"acme: {title}" in result.output
    rows = {line.split("│")[1].strip(): line for line in lines if line.startswith("│")}
    assert rows["calls so far"].split("│")[2].strip().startswith("7 (2 failed), ")
    assert [c.strip() for c in rows["nightly"].split("│")[1:3]] == ["nightly", "5"]
    assert [c.strip() for c in rows["webhook"].split("│")[1:3]] == ["webhook", "2"]
    assert [c.strip() for c in rows["503"].split("│")[1:3]] == ["503", "2"]
