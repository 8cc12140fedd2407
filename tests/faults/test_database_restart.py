"""PostgreSQL going away mid-sync: the run fails cleanly and the next run converges.

Protects issue 7's promise for a warehouse restart: a `tampuuri-sync sync --full` whose
PostgreSQL is stopped with `pg_ctl stop -m immediate` (a crash, as the server sees it)
in the middle of a run exits non-zero with an error that names the database problem and
never the database password; the data of the interrupted scans rolled back; once the
server is back, a rerun succeeds and the warehouse equals the simulator.

Uses its own throwaway pgserver instance: the shared test server must not be restarted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pgserver
import pytest
from pgserver._commands import pg_ctl

from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.warehouse.engine import make_engine, redacted, to_sqlalchemy_url
from tests.faults.helpers import (
    cli_env,
    open_version_problems,
    run_cli,
    run_statuses,
    start_cli,
    wait_for_calls,
    with_password,
)
from tests.sync.helpers import assert_parity

ACCOUNT = "demo-a"
DB_PASSWORD = "Pg-Salasana-9f3e1c!x"


@pytest.fixture
def throwaway_pg() -> Iterator[pgserver.PostgresServer]:
    # A short path under /tmp: the server's Unix socket path must stay under ~100 bytes.
    root = Path(tempfile.mkdtemp(prefix="tsync-pg-"))
    server = pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _stop_immediately(server: pgserver.PostgresServer) -> None:
    pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=server.pgdata, user=server.system_user)


def _start(server: pgserver.PostgresServer) -> None:
    with server._lock:  # pgserver's own start path: same socket directory, same URL
        server.ensure_postgres_running()


def test_database_crash_mid_sync_fails_cleanly_and_the_rerun_converges(throwaway_pg):
    url = with_password(to_sqlalchemy_url(throwaway_pg.get_uri()), DB_PASSWORD)
    sim = Simulator(
        SimulatorConfig(seed=13, scale=3000, accounts=(ACCOUNT,), faults=FaultConfig(latency_ms=30))
    )
    with serve_in_thread(sim) as base_url:
        env = cli_env(sim, ACCOUNT, base_url, url)
        code, output = run_cli(["db", "url"], env)
        assert code == 0 and DB_PASSWORD not in output
        assert output.strip() == redacted(url)

        proc = start_cli(["sync", "--full"], env)
        try:
            # Mid-way through the cost centres' objects (17 scopes at this scale).
            assert wait_for_calls(sim, 8, proc, timeout_s=30)
            _stop_immediately(throwaway_pg)
            output, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        assert proc.returncode not in (0, None), output
        assert DB_PASSWORD not in output
        lowered = output.lower()
        assert "operationalerror" in lowered or "database" in lowered, output[-2000:]
        assert "connection" in lowered, output[-2000:]

        _start(throwaway_pg)
        code, rerun = run_cli(["sync", "--full"], env)
        assert code == 0, rerun
        assert DB_PASSWORD not in rerun

    engine = make_engine(url, pool_size=1)
    try:
        assert_parity(engine, sim, ACCOUNT)
        problems = open_version_problems(engine, ACCOUNT)
        assert problems == dict.fromkeys(problems, 0)
        runs = run_statuses(engine)
        assert len(runs) == 2
        crashed = [r for r in runs.values() if set(r.values()) != {"success"}]
        assert len(crashed) == 1 and crashed[0].get("kohteet") != "success"
    finally:
        engine.dispose()
