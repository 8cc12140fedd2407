"""`tampuuri-sync doctor` on the command line: plan first, --yes to spend, --max-calls caps.

Protects: without --yes the command prints the plan and spends no call (the simulator's
counter stays 0); with --yes and a cap it spends exactly what its plan (within the cap)
says, prints the findings table, and names the probes the cap left out.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import _mount_optional_apps, app
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.tampuuri.catalogue_overrides import overrides_path


@pytest.fixture
def cli_env(account, warehouse_url, tmp_path, monkeypatch, synced):
    config, environ = account
    for variable, value in environ.items():
        monkeypatch.setenv(variable, value)
    entry = {
        "name": config.name,
        "base_url": config.base_url,
        # The variables `account_for` put the secrets in: DEMO_A_API_KEY, ...
        "credentials": {v.removeprefix("DEMO_A_").lower(): v for v in environ},
    }
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(yaml.safe_dump({"accounts": [entry]}), encoding="utf-8")
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(accounts))
    monkeypatch.setenv("TAMPUURI_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("COLUMNS", "200")
    _mount_optional_apps()


def _calls(sim) -> int:
    return sum(row["count"] for row in sim.transactions())


def test_the_plan_without_yes_then_a_capped_run(cli_env, sim, routes_file):
    runner = CliRunner()
    shown = runner.invoke(app, ["doctor", "--routes", str(routes_file)])
    assert shown.exit_code == 0, shown.output
    assert "0 calls spent: run again with --yes" in shown.output
    assert re.search(r"total\s.*\b15\b", shown.output), shown.output
    assert _calls(sim) == 0 and not overrides_path(routes_file).exists()

    capped = runner.invoke(
        app, ["doctor", "--routes", str(routes_file), "--yes", "--max-calls", "5"]
    )
    assert capped.exit_code == 0, capped.output
    assert "over the cap" in capped.output and "confirmed" in capped.output
    assert _calls(sim) == 5
    assert re.search(r"5 call\(s\) spent \(plan 5\)", capped.output), capped.output
    assert overrides_path(routes_file).exists()


def test_an_unknown_account_is_a_configuration_error(cli_env, sim, routes_file):
    result = CliRunner().invoke(app, ["doctor", "--account", "nobody", "--yes"])
    assert result.exit_code == 2 and "nobody" in result.output
    assert _calls(sim) == 0


def test_a_contradiction_exits_1_and_names_the_correction(cli_env, sim, routes_file):
    sim.contract.choose("batch_limit_100")
    result = CliRunner().invoke(app, ["doctor", "--routes", str(routes_file), "--yes"])
    assert result.exit_code == 1, result.output
    words = " ".join(re.sub(r"[│┃]", " ", result.output).split())
    assert "contradicted" in words and "At most 100 ids" in words
    written = overrides_path(routes_file).read_text(encoding="utf-8")
    assert "key: resources.osapuolet.batch.max_ids" in written and "value: 100" in written
    assert load_catalogue(routes_file).resources["osapuolet"].batch.max_ids == 100


def test_refused_credentials_stop_after_one_call_and_write_nothing(
    cli_env, sim, routes_file, monkeypatch
):
    monkeypatch.setenv("DEMO_A_PASSWORD", "wrong")
    result = CliRunner().invoke(app, ["doctor", "--routes", str(routes_file), "--yes"])
    assert result.exit_code == 1, result.output
    assert "refused the credentials" in result.output and "1 call(s) spent" in result.output
    assert "wrong" not in result.output
    assert _calls(sim) == 1 and not overrides_path(routes_file).exists()


def test_json_shows_the_plan_then_the_findings(cli_env, sim, routes_file):
    runner = CliRunner()
    planned = runner.invoke(app, ["doctor", "--routes", str(routes_file), "--json"])
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.output)
    assert plan["plan"]["calls"] == 15 and plan["spent"] is False and _calls(sim) == 0
    done = runner.invoke(app, ["doctor", "--routes", str(routes_file), "--json", "--yes"])
    assert done.exit_code == 0, done.output
    run = json.loads(done.output)
    assert run["calls"] == 15 == _calls(sim) and run["spent"] is True
    assert {f["verdict"] for f in run["findings"]} == {"confirmed"}
    assert run["overrides_file"] == str(overrides_path(routes_file))
