"""A newcomer's mistakes get one line each: every command run without accounts or without
TAMPUURI_DATABASE_URL exits 2 with `configuration error: ...` on a single line, however
long, at the console's piped width (no COLUMNS), and no traceback; wrong credentials cost
one call and print one line naming the call the API refused (no table of failed rows)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.warehouse.engine import redacted
from tests.cli_process import run_cli_process

NO_DATABASE = "TAMPUURI_DATABASE_URL is not set"
CREDENTIAL_KEYS = ("api_key", "customer_name", "account_name", "username", "password")


def _bare_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMPUURI_")}
    env.pop("COLUMNS", None)
    # An accounts file that does not exist: config/accounts.yaml of the checkout is not read.
    env["TAMPUURI_ACCOUNTS_FILE"] = str(tmp_path / "missing.yaml")
    return env


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("sync",), "missing.yaml: file not found (named by TAMPUURI_ACCOUNTS_FILE)"),
        (("plan",), "missing.yaml: file not found (named by TAMPUURI_ACCOUNTS_FILE)"),
        (("budget",), "missing.yaml: file not found (named by TAMPUURI_ACCOUNTS_FILE)"),
        (("doctor",), "missing.yaml: file not found (named by TAMPUURI_ACCOUNTS_FILE)"),
        (("db", "upgrade"), NO_DATABASE),
        (("webhooks", "process"), "missing.yaml: file not found (named by TAMPUURI_ACCOUNTS_FILE)"),
    ],
)
def test_a_missing_setting_is_one_line(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    done = run_cli_process(args, _bare_environment(tmp_path))

    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("configuration error: ") and expected in lines[0], output


@pytest.mark.parametrize(
    "args",
    [
        ("budget",),
        ("plan",),
        ("doctor",),
        ("webhooks", "serve"),
        ("webhooks", "process"),
        ("webhooks", "inbox"),
    ],
)
def test_no_database_url_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = _bare_environment(tmp_path)
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        "accounts:\n- name: a\n  base_url: http://127.0.0.1:9/v10/api/\n  package: normal\n"
        "  credentials: {api_key: A_KEY, customer_name: A_CUSTOMER, account_name: A_ACCOUNT,"
        " username: A_USER, password: A_PASSWORD}\n",
        encoding="utf-8",
    )
    env["TAMPUURI_ACCOUNTS_FILE"] = str(accounts)

    done = run_cli_process(args, env)

    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    lines = done.stdout.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("configuration error: "), output
    assert NO_DATABASE in lines[0], output


@pytest.fixture(scope="module")
def simulator() -> Iterator[tuple[Simulator, str]]:
    sim = Simulator(SimulatorConfig(seed=5, scale=60, accounts=("demo-a",)))
    with serve_in_thread(sim) as base_url:
        yield sim, base_url + "/v10/api/"


def test_wrong_credentials_are_one_line_after_one_call(
    simulator: tuple[Simulator, str], tmp_path: Path, warehouse_url: str
) -> None:
    sim, base_url = simulator
    sim.counter.reset()
    creds = sim.credentials("demo-a")
    env = _bare_environment(tmp_path)
    names = {key: f"Q_{key.upper()}" for key in CREDENTIAL_KEYS}
    env.update({names[key]: getattr(creds, key) for key in CREDENTIAL_KEYS})
    env["Q_PASSWORD"] = "not-the-password-123"
    env["TAMPUURI_DATABASE_URL"] = warehouse_url
    accounts = tmp_path / "accounts.yaml"
    accounts.write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {
                        "name": "demo-a",
                        "base_url": base_url,
                        "package": "normal",
                        "credentials": names,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    env["TAMPUURI_ACCOUNTS_FILE"] = str(accounts)

    done = run_cli_process(("sync",), env)

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output and "not-the-password-123" not in output
    assert "Sync summary" not in output  # a table of four failed rows says nothing more
    (line,) = [line for line in done.stdout.splitlines() if "401" in line]
    assert line.startswith("account 'demo-a': ") and line.endswith("nothing was synced"), output
    assert "not sent" not in line  # the call the API answered
    assert ".;" not in line and ".:" not in line
    assert sum(row["count"] for row in sim.transactions()) == 1


def test_a_shown_url_hides_a_password_and_invents_none() -> None:
    assert redacted("postgresql://app:s3cret@db:5432/w") == "postgresql+psycopg://app:***@db:5432/w"
    assert redacted("postgresql://postgres:@/w?host=/tmp/x") == (
        "postgresql+psycopg://postgres@/w?host=%2Ftmp%2Fx"
    )


@pytest.mark.parametrize("args", [("budget",), ("plan",), ("db", "upgrade")])
def test_an_unreachable_warehouse_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    env = _bare_environment(tmp_path)
    accounts = tmp_path / "accounts.yaml"
    names = {key: f"Q_{key.upper()}" for key in CREDENTIAL_KEYS}
    env.update(dict.fromkeys(names.values(), "x"))
    accounts.write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {
                        "name": "a",
                        "base_url": "http://127.0.0.1:9/v10/api/",
                        "package": "normal",
                        "credentials": names,
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    env["TAMPUURI_ACCOUNTS_FILE"] = str(accounts)
    env["TAMPUURI_DATABASE_URL"] = "postgresql://someone:pw-123@127.0.0.1:9/warehouse"

    done = run_cli_process(args, env)

    output = done.stdout + done.stderr
    assert done.returncode == 3, output
    assert "Traceback" not in output and "pw-123" not in output
    (line,) = done.stdout.strip().splitlines()
    assert line.startswith("warehouse postgresql+psycopg://someone:***@127.0.0.1:9/warehouse: ")
    assert "Connection refused" in line, output
