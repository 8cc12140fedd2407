"""`tampuuri-sync ui` / `make ui`: the Dagster web UI on embedded defaults.

Starts what the user did not configure: the embedded PostgreSQL (database `tampuuri_ui`,
kept between sessions) unless TAMPUURI_DATABASE_URL is set, and the simulator serving two
demo accounts unless TAMPUURI_ACCOUNTS_FILE or TAMPUURI_BASE_URL is set. Then it runs
`dagster dev` with DAGSTER_HOME under `.tampuuri/` (SQLite instance storage, fine for one
machine) until Ctrl-C, which stops everything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from pipelines.local_stack import LOCAL_DIR, local_stack
from pipelines.warehouse.engine import EMBEDDED, embedded_database_url, redacted, to_libpq_url

UI_DATABASE = "tampuuri_ui"
UI_SCALE = 3000
DAGSTER_HOME = LOCAL_DIR / "dagster_home"
# The local instance: SQLite storage, and the same one-run-per-account queue as
# production (`dagster dev` runs the daemon that drains the queue).
LOCAL_INSTANCE = """\
# Written by `tampuuri-sync ui`; local only (production: config/dagster.yaml).
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1  # webhook refreshes wait in the queue at most ~1 s
concurrency:
  pools:  # the per-account API pools, as in production (config/dagster.yaml)
    granularity: op
    default_limit: 2
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: tampuuri/account
        value: {applyLimitPerUniqueValue: true}
        limit: 1
      - key: dagster/partition
        value: {applyLimitPerUniqueValue: true}
        limit: 1
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 60  # a dead worker's pool slots
telemetry:
  enabled: false
"""


# Two warnings `dagster dev` prints on every start that a user can do nothing about: Dagster
# 1.13 calls its own CLI superseded by `dg dev`, and its sensor decorator passes a beta
# parameter to itself. Only these two messages are silenced (PYTHONWARNINGS reaches the
# webserver, daemon and code server, which Dagster starts as subprocesses).
QUIET_WARNINGS = (
    "ignore:Function `dev_command` is superseded:Warning",
    "ignore:Parameter `owners` of initializer `SensorDefinition.__init__`:Warning",
)


def with_quiet_warnings(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the two known Dagster warnings silenced (other filters are kept)."""
    filters = [f for f in env.get("PYTHONWARNINGS", "").split(",") if f]
    return {**env, "PYTHONWARNINGS": ",".join([*filters, *QUIET_WARNINGS])}


def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` on the server if it is missing (kept otherwise); its URL."""
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            # The name is a code constant; CREATE DATABASE takes no bound parameters.
            conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def prepare_dagster_home(home: Path = DAGSTER_HOME) -> Path:
    """Create DAGSTER_HOME with the local dagster.yaml (rewritten each start)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(LOCAL_INSTANCE, encoding="utf-8")
    return home


@contextlib.contextmanager
def local_environment(sim_port: int, environ: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """The environment `dagster dev` runs with, starting the embedded pieces it needs."""
    env = dict(environ)
    real_api = bool(env.get("TAMPUURI_ACCOUNTS_FILE") or env.get("TAMPUURI_BASE_URL"))
    # `ui` is a local tool: it chooses the embedded server itself unless given a real URL.
    real_db = env.get("TAMPUURI_DATABASE_URL", "").strip().lower() not in ("", EMBEDDED)
    with contextlib.ExitStack() as stack:
        db_url = "" if real_db else ensure_database(embedded_database_url(), UI_DATABASE)
        if not real_api and not real_db:
            stack_ = stack.enter_context(
                local_stack(database=UI_DATABASE, scale=UI_SCALE, port=sim_port, fresh=False)
            )
            env.update(stack_.environ)
            print(f"simulator: {stack_.api_url} (accounts file {stack_.accounts_file})")
        elif not real_api:
            env.update(stack.enter_context(_simulator_only(sim_port)))
        elif not real_db:
            env["TAMPUURI_DATABASE_URL"] = db_url
        print(f"warehouse: {redacted(env['TAMPUURI_DATABASE_URL'])}")
        yield env


@contextlib.contextmanager
def _simulator_only(sim_port: int) -> Iterator[dict[str, str]]:
    """The simulator and its accounts file, for a user who brings their own database."""
    from pipelines.local_stack import DEMO_ACCOUNTS, write_accounts_file
    from pipelines.simulator import Simulator, SimulatorConfig
    from pipelines.simulator.server import serve_in_thread

    sim = Simulator(SimulatorConfig(seed=7, scale=UI_SCALE, accounts=DEMO_ACCOUNTS))
    with serve_in_thread(sim, host="127.0.0.1", port=sim_port) as api_url:
        _, env = write_accounts_file(sim, api_url, LOCAL_DIR / UI_DATABASE)
        print(f"simulator: {api_url}")
        yield env


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_dagster_dev(port: int = 3000, sim_port: int = 8765) -> int:
    """Run `dagster dev` on embedded defaults until Ctrl-C; returns its exit code."""
    home = prepare_dagster_home()
    with local_environment(sim_port, os.environ) as env:
        env["DAGSTER_HOME"] = str(home)
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-m",
            "pipelines.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ]
        print(f"Dagster UI: http://localhost:{port}  (Ctrl-C stops everything)")
        # Ctrl-C (and a plain `kill`) end the UI, the simulator and embedded state alike,
        # even when started from a shell that ignores SIGINT in background jobs.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        process = subprocess.Popen(command, env=with_quiet_warnings(env))
        try:
            return process.wait()
        except KeyboardInterrupt:
            # The terminal sent SIGINT to dagster dev as well; give it time to stop its
            # webserver and daemon cleanly, then make sure.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return 130
