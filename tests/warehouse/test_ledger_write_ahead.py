"""After a SIGKILL at any moment, the call ledger never under-counts (issue 16 item 5).

A real `tampuuri-sync sync --full` subprocess against the simulator over a socket and a
real PostgreSQL is SIGKILLed at seeded points of its run, several times. After each kill,
once the simulator has answered what was still in flight, the run's rows in
`ops.api_calls` are at least the calls the simulator counted for it and at most the
client's outstanding requests above (`outstanding_limit`: its cap in flight plus those
admitted ahead): the extra ones are calls admitted but not sent, or cut on the wire, left
without an answer. A clean run afterwards is
counted exactly, every call answered.
"""

from __future__ import annotations

import random
import signal
import time

from sqlalchemy import Engine, text

from pipelines.settings import load_sync_settings
from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.tampuuri.ledger import outstanding_limit
from tests.faults.helpers import cli_env, run_cli, sim_calls, start_cli, wait_for_calls

ACCOUNT = "demo-a"
KILLS = 3
SEED = 16_5


def ledger_counts(engine: Engine) -> tuple[int, int]:
    """(rows, rows without an answer) in ops.api_calls for the account."""
    with engine.connect() as conn:
        rows, unanswered = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE duration_ms IS NULL)"
                " FROM ops.api_calls WHERE account = :a"
            ),
            {"a": ACCOUNT},
        ).one()
    return rows, unanswered


def settled_calls(sim: Simulator, *, quiet_s: float = 0.3, timeout_s: float = 10) -> int:
    """The simulator's count once requests still in flight at the kill were answered."""
    deadline = time.monotonic() + timeout_s
    last, since = sim_calls(sim), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = sim_calls(sim)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    raise TimeoutError("the simulator kept counting calls after the kill")


def test_sigkilled_runs_never_undercount_and_overcount_at_most_one_batch(engine, warehouse_url):
    settings = load_sync_settings()
    batch = outstanding_limit(max(settings.page_concurrency, settings.scope_concurrency))
    sim = Simulator(
        SimulatorConfig(
            seed=5,
            scale=6000,
            accounts=(ACCOUNT,),
            faults=FaultConfig(latency_ms=15, error_rate=0.1, seed=5),
        )
    )
    rng = random.Random(SEED)
    excess_per_kill = []
    with serve_in_thread(sim) as base_url:
        env = cli_env(sim, ACCOUNT, base_url, warehouse_url)
        for _ in range(KILLS):
            server_before, (ledger_before, _) = sim_calls(sim), ledger_counts(engine)
            proc = start_cli(["sync", "--full"], env)
            try:
                assert wait_for_calls(sim, server_before + rng.randint(1, 40), proc)
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=10)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            server = settled_calls(sim) - server_before
            rows, unanswered = ledger_counts(engine)
            ledger = rows - ledger_before
            assert server <= ledger <= server + batch, (server, ledger, batch)
            assert unanswered >= ledger - server  # the extra ones were never answered
            excess_per_kill.append(ledger - server)

        server_before, (ledger_before, unanswered_before) = sim_calls(sim), ledger_counts(engine)
        code, output = run_cli(["sync", "--full"], env, timeout_s=120)
        assert code == 0, output
        server = settled_calls(sim) - server_before
    rows, unanswered = ledger_counts(engine)
    assert rows - ledger_before == server  # a run that ends is counted exactly
    assert unanswered == unanswered_before  # and every one of its calls answered
    assert len(excess_per_kill) == KILLS
