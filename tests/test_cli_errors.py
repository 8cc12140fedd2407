"""A newcomer's mistakes get one line each: every command run without accounts or without
TAMPUURI_DATABASE_URL exits 2 with `configuration error: ...` on a single line, however
long, at the console's piped width (no COLUMNS), and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.settings import PROJECT_ROOT

NO_DATABASE = "TAMPUURI_DATABASE_URL is not set"


def _run(args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _bare_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMPUURI_")}
    env.pop("COLUMNS", None)
    # An accounts file that does not exist: config/accounts.yaml of the checkout is not read.
    env["TAMPUURI_ACCOUNTS_FILE"] = str(tmp_path / "missing.yaml")
    return env


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("sync",), "missing.yaml: file not found"),
        (("plan",), "missing.yaml: file not found"),
        (("budget",), "missing.yaml: file not found"),
        (("doctor",), "missing.yaml: file not found"),
        (("db", "upgrade"), NO_DATABASE),
        (("webhooks", "process"), "missing.yaml: file not found"),
    ],
)
def test_a_missing_setting_is_one_line(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    done = _run(args, _bare_environment(tmp_path))

    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("configuration error: ") and expected in lines[0], output


@pytest.mark.parametrize("args", [("budget",), ("plan",), ("webhooks", "serve")])
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

    done = _run(args, env)

    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    lines = done.stdout.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("configuration error: "), output
    assert NO_DATABASE in lines[0], output
