"""Shared pieces of the fault tests: CLI subprocesses against a simulator over a socket.

The CLI reads its configuration from the environment only, so each subprocess gets a clean
environment: the single-account TAMPUURI_* variables for one simulator account and the
warehouse URL. Nothing here mocks the database or the API.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from pipelines.settings import PROJECT_ROOT
from pipelines.simulator import Simulator

TABLES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")
CLI = Path(sys.executable).parent / "tampuuri-sync"
# Runs the real CLI entry point with logging at DEBUG configured first (main() then keeps
# it: logging.basicConfig is a no-op once the root logger has a handler).
DEBUG_CLI = (
    "import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stderr); "
    "from pipelines.cli import main; sys.argv = ['tampuuri-sync', *sys.argv[1:]]; main()"
)


def cli_env(
    sim: Simulator,
    account: str,
    base_url: str,
    database_url: str,
    **overrides: str,
) -> dict[str, str]:
    """A clean environment for the CLI: one account from TAMPUURI_* variables."""
    creds = sim.credentials(account)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAMPUURI_")}
    env.update(
        {
            "TAMPUURI_BASE_URL": base_url.rstrip("/") + "/v10/api/",
            "TAMPUURI_API_KEY": creds.api_key,
            "TAMPUURI_CUSTOMER_NAME": creds.customer_name,
            "TAMPUURI_ACCOUNT_NAME": creds.account_name,
            "TAMPUURI_USERNAME": creds.username,
            "TAMPUURI_PASSWORD": creds.password,
            "TAMPUURI_DATABASE_URL": database_url,
            # Wide, plain output: error lines are not wrapped or truncated by rich.
            "COLUMNS": "400",
            "NO_COLOR": "1",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    env.update(overrides)
    return env


def start_cli(
    args: Sequence[str], env: Mapping[str, str], *, debug: bool = False
) -> subprocess.Popen[str]:
    """Start `tampuuri-sync ARGS` (optionally with DEBUG logging) with output captured."""
    command = [sys.executable, "-c", DEBUG_CLI, *args] if debug else [str(CLI), *args]
    return subprocess.Popen(
        command,
        env=dict(env),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_cli(
    args: Sequence[str], env: Mapping[str, str], *, debug: bool = False, timeout_s: float = 60
) -> tuple[int, str]:
    """Run the CLI to the end; returns (exit code, stdout and stderr together)."""
    proc = start_cli(args, env, debug=debug)
    output, _ = proc.communicate(timeout=timeout_s)
    return proc.returncode, output


def sim_calls(sim: Simulator) -> int:
    """API calls the simulator has answered so far (its transaction report)."""
    return sum(row["count"] for row in sim.transactions())


def wait_for_calls(
    sim: Simulator, calls: int, proc: subprocess.Popen[str], *, timeout_s: float = 30
) -> bool:
    """Wait until the simulator has seen `calls` calls; False if the process ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sim_calls(sim) >= calls:
            return proc.poll() is None
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    raise TimeoutError(f"the simulator did not reach {calls} calls in {timeout_s}s")


def with_password(url: str, password: str) -> str:
    """The same URL with a password (trust auth on the test servers ignores it)."""
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def open_version_problems(engine: Engine, account: str) -> dict[str, int]:
    """Per table: ids with more than one open history version, and active rows whose open
    version is missing or marked deleted (each must be 0)."""
    problems: dict[str, int] = {}
    with engine.connect() as conn:
        for table in TABLES:  # identifiers from the code constant above
            doubled = conn.execute(
                text(
                    f"SELECT count(*) FROM (SELECT id FROM tampuuri.{table}_history"
                    " WHERE account = :a AND valid_to IS NULL GROUP BY id HAVING count(*) > 1) d"
                ),
                {"a": account},
            ).scalar_one()
            unmatched = conn.execute(
                text(
                    f"SELECT count(*) FROM tampuuri.{table} t WHERE t.account = :a"
                    " AND t.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM"
                    f" tampuuri.{table}_history h WHERE h.account = t.account AND h.id = t.id"
                    " AND h.valid_to IS NULL AND NOT h.deleted AND h.row_hash = t.row_hash)"
                ),
                {"a": account},
            ).scalar_one()
            problems[table] = doubled + unmatched
    return problems


def run_statuses(engine: Engine) -> dict[str, dict[str, str]]:
    """ops.sync_runs as run_id -> resource -> status."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT run_id, resource, status FROM ops.sync_runs")).all()
    out: dict[str, dict[str, str]] = {}
    for run_id, resource, status in rows:
        out.setdefault(run_id, {})[resource] = status
    return out
