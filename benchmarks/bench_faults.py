"""Proof under faults, the long version: faulted syncs and SIGKILLs at scale, then parity.

Against the simulator over uvicorn on a loopback port (one account, default ~20k rows):

  faulted   N full syncs in process with 10% 5xx, 429 bursts (rate-limit rate raised to
            60% for 0.3 s every 2 s), hung requests (hang_s longer than the sync's read
            timeout, which is set small here) and paging drift; then faults off and two
            clean full syncs (links need two complete scans to confirm a deletion).
  killed    five `tampuuri-sync sync --full` subprocesses under the same faults, each
            SIGKILLed after a seeded random number of answered calls; then two clean runs.
            After each kill, the account's ops.api_calls against the simulator's counter:
            never below it, at most the client's calls in flight above ("Ledger after
            kills"; `--killed-only` runs just this phase and writes just that section).

  drift     per drift pattern (`drift_parity.py`), ONE full sync with the pattern on
            every list, then the issue's rule: no row that existed throughout lost, no row
            gone throughout live, calls against the overlap-row minimum; then a clean
            rerun ("Proof under faults: one drifted run per pattern"; `--drift-only`).

After each phase the warehouse is compared with the simulator row by row. Reported:
faults injected (non-2xx statuses from the simulator's transaction report, and transport
errors in the ledger: hangs that hit the read timeout), runs killed, rows compared, rows
lost (must be 0), extra rows, differing rows, duplicate open history versions (must be 0),
calls and retries. Writes benchmarks/results/faults.json and faults.txt and the
"Proof under faults" section of benchmarks/RESULTS.md.

Usage:
    .venv/bin/python benchmarks/bench_faults.py [--scale 20000] [--runs 3] [--kills 5]
        [--seed 7] [--url URL] [--time-limit 900] [--drift-only] [--drift-rate 0.2]
        [--big-cc-rows 1000]

Bounded: every loop has a count and the whole run a time limit; loopback only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from drift_parity import drift_phase, live_rows
from drift_parity import header as render_drift_header
from drift_parity import render as render_drift
from results_md import write_section
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from pipelines.settings import AccountConfig, load_sync_settings
from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.tampuuri.ledger import outstanding_limit
from pipelines.warehouse.engine import EMBEDDED, database_url, make_engine, to_libpq_url
from pipelines.warehouse.migrations import upgrade

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Proof under faults"
DRIFT_SECTION = "## Proof under faults: one drifted run per pattern"
LEDGER_SECTION = "## Ledger after kills"
ACCOUNT = "demo-a"
TABLES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")
CLI = Path(sys.executable).parent / "tampuuri-sync"
VARIABLES = {
    "api_key": "TAMPUURI_API_KEY",
    "customer_name": "TAMPUURI_CUSTOMER_NAME",
    "account_name": "TAMPUURI_ACCOUNT_NAME",
    "username": "TAMPUURI_USERNAME",
    "password": "TAMPUURI_PASSWORD",
}


def faults(seed: int, *, rate_limit: float = 0.02) -> FaultConfig:
    return FaultConfig(
        error_rate=0.10,
        rate_limit_rate=rate_limit,
        retry_after_s=0.05,
        latency_ms=5,
        hang_rate=0.01,
        hang_s=3.0,
        drift_rate=0.05,
        seed=seed,
    )


class Bursts:
    """Raises the 429 rate to 60% for 0.3 s every 2 s while on (bounded by `max_bursts`)."""

    def __init__(self, sim: Simulator, seed: int, max_bursts: int = 2000) -> None:
        self.sim, self.seed, self.max_bursts = sim, seed, max_bursts
        self.on = threading.Event()
        self.stop = threading.Event()
        self.count = 0
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(2.0) and self.count < self.max_bursts:
            if not self.on.is_set():
                continue
            self.count += 1
            self.sim.faults.configure(faults(self.seed + self.count, rate_limit=0.6))
            time.sleep(0.3)
            if self.on.is_set():
                self.sim.faults.configure(faults(self.seed + self.count))


def scratch_database(server_url: str) -> str:
    name = f"bench_faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def account_env(sim: Simulator) -> tuple[AccountConfig, dict[str, str]]:
    creds = sim.credentials(ACCOUNT)
    environ = {var: getattr(creds, key) for key, var in VARIABLES.items()}
    return AccountConfig.model_validate(
        {"name": ACCOUNT, "base_url": "http://unused/", "credentials": VARIABLES}
    ), environ


def compare(engine: Engine, sim: Simulator) -> dict[str, int]:
    """Rows compared, lost (in the simulator, not active here), extra, differing, duplicates."""
    out = {"compared": 0, "lost": 0, "extra": 0, "differing": 0, "duplicate_open_versions": 0}
    with engine.connect() as conn:
        for table in TABLES:  # identifiers from the constant above
            expected = {i["Id"]: i for i in sim.items(ACCOUNT, table)}
            actual = live_rows(engine, table)  # decoded exactly, as the simulator holds them
            if table == "osapuolet":  # parties whose links ended still exist (see tests)
                existing = {i["Id"] for i in sim.items(ACCOUNT, table, visible_only=False)}
                actual = {k: v for k, v in actual.items() if k in expected or k not in existing}
            out["compared"] += len(expected)
            out["lost"] += len(set(expected) - set(actual))
            out["extra"] += len(set(actual) - set(expected))
            out["differing"] += sum(1 for k in expected if k in actual and actual[k] != expected[k])
            out["duplicate_open_versions"] += conn.execute(
                text(
                    f"SELECT count(*) FROM (SELECT id FROM tampuuri.{table}_history"
                    " WHERE account = :a AND valid_to IS NULL GROUP BY id"
                    " HAVING count(*) > 1) d"
                ),
                {"a": ACCOUNT},
            ).scalar_one()
    return out


def sim_statuses(sim: Simulator) -> dict[str, int]:
    totals: dict[str, int] = {}
    for row in sim.transactions():
        totals[str(row["status"])] = totals.get(str(row["status"]), 0) + row["count"]
    return totals


def ledger(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT coalesce(status::text, 'no response'), count(*) FROM ops.api_calls"
                " GROUP BY 1"
            )
        ).all()
    return {status: n for status, n in rows}


def clean_runs(engine: Engine, sim: Simulator, settings, base: str) -> list[dict[str, Any]]:
    sim.faults.configure(FaultConfig())
    account, environ = account_env(sim)
    account = account.model_copy(update={"base_url": base + "/v10/api/"})
    out = []
    for _ in range(2):
        report = run_sync(
            engine, SyncRequest(account, full=True), environ=environ, settings=settings
        )
        out.append({"ok": report.ok, "calls": report.calls, "retries": report.retries})
    return out


def faulted_phase(args, server_url: str, deadline: float) -> dict[str, Any]:
    url = scratch_database(server_url)
    engine = make_engine(url, pool_size=4)
    upgrade(engine)
    sim = Simulator(
        SimulatorConfig(
            seed=args.seed, scale=args.scale, accounts=(ACCOUNT,), faults=faults(args.seed)
        )
    )
    settings = dataclasses.replace(
        load_sync_settings(),
        read_timeout_s=1.0,
        backoff_initial_s=0.02,
        backoff_max_s=0.5,
        max_attempts=8,
        retry_cap_per_run=5000,
    )
    runs: list[dict[str, Any]] = []
    bursts = Bursts(sim, args.seed)
    try:
        with serve_in_thread(sim) as base:
            account, environ = account_env(sim)
            account = account.model_copy(update={"base_url": base + "/v10/api/"})
            bursts.thread.start()
            bursts.on.set()
            for index in range(args.runs):
                if time.monotonic() > deadline:
                    break
                report = run_sync(
                    engine, SyncRequest(account, full=True), environ=environ, settings=settings
                )
                runs.append(
                    {
                        "run": index + 1,
                        "ok": report.ok,
                        "calls": report.calls,
                        "retries": report.retries,
                        "seconds": round(report.seconds, 1),
                        "errors": [r.error for r in report.resources if r.error],
                    }
                )
            bursts.on.clear()
            statuses = sim_statuses(sim)
            clean = clean_runs(engine, sim, settings, base)
            result = {
                "runs": runs,
                "bursts": bursts.count,
                "sim_statuses": statuses,
                "ledger": ledger(engine),
                "clean_runs": clean,
                **compare(engine, sim),
            }
    finally:
        bursts.stop.set()
        engine.dispose()
        drop_database(server_url, url)
    return result


def account_ledger(engine: Engine) -> tuple[int, int]:
    """(calls, calls without an answer) in ops.api_calls for the account."""
    with engine.connect() as conn:
        calls, unanswered = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE duration_ms IS NULL)"
                " FROM ops.api_calls WHERE account = :a"
            ),
            {"a": ACCOUNT},
        ).one()
    return calls, unanswered


def settled_server_calls(sim: Simulator, at_least_s: float, quiet_s: float = 0.5) -> int:
    """The simulator's count for the account (as GET /_sim/transactions reports it) once the
    requests a killed process left in flight were answered: after `at_least_s` (a hung
    request's hang) and `quiet_s` without a new count; bounded at 30 s."""
    started = time.monotonic()
    last, since = sim.counter.total(ACCOUNT), started
    while time.monotonic() - started < 30:
        time.sleep(0.05)
        now = sim.counter.total(ACCOUNT)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s and time.monotonic() - started >= at_least_s:
            break
    return last


def killed_phase(args, server_url: str, deadline: float) -> dict[str, Any]:
    url = scratch_database(server_url)
    engine = make_engine(url, pool_size=4)  # the clean runs in process need 6
    upgrade(engine)
    sim = Simulator(
        SimulatorConfig(
            seed=args.seed + 1, scale=args.scale, accounts=(ACCOUNT,), faults=faults(args.seed + 1)
        )
    )
    rng = random.Random(args.seed)
    kills: list[dict[str, Any]] = []
    sync = load_sync_settings()
    # The client's cap on requests in flight, plus those admitted ahead of them.
    in_flight = outstanding_limit(max(sync.page_concurrency, sync.scope_concurrency))
    try:
        with serve_in_thread(sim) as base:
            creds = sim.credentials(ACCOUNT)
            env = {k: v for k, v in os.environ.items() if not k.startswith("TAMPUURI_")}
            env.update({var: getattr(creds, key) for key, var in VARIABLES.items()})
            env.update(
                {
                    "TAMPUURI_BASE_URL": base + "/v10/api/",
                    "TAMPUURI_DATABASE_URL": url,
                    "COLUMNS": "200",
                }
            )
            for index in range(args.kills):
                if time.monotonic() > deadline:
                    break
                before = sum(r["count"] for r in sim.transactions())
                ledger_before, unanswered_before = account_ledger(engine)
                target = before + rng.randint(5, max(6, args.scale // 160))
                proc = subprocess.Popen(
                    [str(CLI), "sync", "--full"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                limit = time.monotonic() + 120
                while (
                    sum(r["count"] for r in sim.transactions()) < target
                    and proc.poll() is None
                    and time.monotonic() < limit
                ):
                    time.sleep(0.005)
                alive = proc.poll() is None
                if alive:
                    proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                # The ledger against the simulator's counter, this run's calls only.
                server = settled_server_calls(sim, faults(args.seed + 1).hang_s + 0.5)
                calls, unanswered = account_ledger(engine)
                kills.append(
                    {
                        "kill": index + 1,
                        "after_calls": target - before,
                        "killed": alive,
                        "returncode": proc.returncode,
                        "server_calls": server - before,
                        "ledger_calls": calls - ledger_before,
                        "excess": (calls - ledger_before) - (server - before),
                        "unanswered": unanswered - unanswered_before,
                        "server_total": server,
                        "ledger_total": calls,
                    }
                )
            statuses = sim_statuses(sim)
            settings = dataclasses.replace(load_sync_settings(), backoff_initial_s=0.02)
            clean = clean_runs(engine, sim, settings, base)
            with engine.connect() as conn:
                runs = dict(
                    conn.execute(
                        text("SELECT status, count(*) FROM ops.sync_runs GROUP BY 1")
                    ).all()
                )
            result = {
                "kills": kills,
                "in_flight_bound": in_flight,
                "ledger_ok": all(0 <= k["excess"] <= in_flight for k in kills),
                "sim_statuses": statuses,
                "ledger": ledger(engine),
                "sync_runs_by_status": runs,
                "clean_runs": clean,
                **compare(engine, sim),
            }
    finally:
        engine.dispose()
        drop_database(server_url, url)
    return result


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"`benchmarks/bench_faults.py`, {summary['when']}, {summary['machine']}, "
        f"scale {summary['scale']:,}, seed {summary['seed']}.",
        "",
        "```",
    ]
    for phase in ("faulted", "killed"):
        p = summary[phase]
        injected = sum(n for s, n in p["sim_statuses"].items() if s != "200")
        hangs = p["ledger"].get("no response", 0)
        lines.append(f"{phase}:")
        if phase == "faulted":
            for r in p["runs"]:
                lines.append(
                    f"  run {r['run']}: ok={r['ok']} calls={r['calls']} "
                    f"retries={r['retries']} seconds={r['seconds']}"
                )
            lines.append(f"  429 bursts: {p['bursts']}")
        else:
            killed = sum(1 for k in p["kills"] if k["killed"])
            lines.append(
                f"  runs killed: {killed} of {len(p['kills'])} "
                f"(after {[k['after_calls'] for k in p['kills']]} calls)"
            )
            lines.append(f"  sync_runs by status: {p['sync_runs_by_status']}")
        lines.append(f"  faults injected (non-200 answers): {injected} {p['sim_statuses']}")
        lines.append(f"  hung calls cut by the read timeout (ledger, no response): {hangs}")
        lines.append(
            f"  ledger rows incl. clean reruns: {sum(p['ledger'].values())}; "
            "simulator calls before them: "
            f"{sum(p['sim_statuses'].values())}"
        )
        lines.append(f"  clean reruns: {p['clean_runs']}")
        lines.append(
            f"  rows compared {p['compared']:,}, lost {p['lost']}, extra {p['extra']}, "
            f"differing {p['differing']}, duplicate open versions "
            f"{p['duplicate_open_versions']}"
        )
    lines.append("```")
    return "\n".join(lines)


# The killed phase run against tree 817e793's code (the batched ledger), kept with every
# new measurement so that the section always shows what changed.
LEDGER_BEFORE = """
Before (tree 817e793: records buffered and flushed every 1 s or 200 records; the same
script run against that tree's code, same seed):

```
kill  killed  server  ledger  ledger-server
   1    True      47      35            -12
   2    True      25      17             -8
   3    True      56      37            -19
   4    True      91      73            -18
   5    True      12       0            -12
   6    True      15       0            -15
all kills: server 246, ledger 162 (84 billed calls, 34 %, missing)
```

Now a killed run's rows are committed before their requests leave, so the ledger is never
below the server; the few above it were outstanding when the process died (admitted but
not yet sent, or cut on the wire before the server finished them). "unanswered" rows
(duration_ms NULL, status NULL) are calls whose answer was not yet written (answers go
in batches of 200 or after 1 s): counted, shown as status "none" in the transaction
report and as failed in `bi.api_calls_*`.
`tests/warehouse/test_ledger_write_ahead.py` asserts the same bound after 3 SIGKILLs of a
real CLI subprocess (the 817e793 ledger fails it at the first kill: server 2, ledger 0).
"""


def render_ledger(summary: dict[str, Any]) -> str:
    """The "Ledger after kills" section: ops.api_calls against the simulator's counter."""
    p = summary["killed"]
    bound = p["in_flight_bound"]
    lines = [
        f"`benchmarks/bench_faults.py` killed phase, {summary['when']}, {summary['machine']},"
        f" scale {summary['scale']:,}, seed {summary['seed']}: `tampuuri-sync sync --full`"
        " subprocesses under the phase's faults (10 % 5xx, hangs, 429s, drift), each"
        " SIGKILLed after a seeded number of answered calls. After each kill, once the"
        " simulator answered what was still in flight, the run's rows in ops.api_calls"
        " against the run's calls in the simulator's transaction counter"
        " (`GET /_sim/transactions`). The bound: ledger >= server and ledger - server <="
        f" {bound} (the client's outstanding requests: its cap in flight plus half the cap"
        " admitted ahead; a request the kill cut on the wire may never be counted by the"
        " server, while the ledger counts it).",
        "",
        "```",
        "kill  killed  server  ledger  ledger-server  unanswered  (cumulative server/ledger)",
    ]
    for k in p["kills"]:
        lines.append(
            f"{k['kill']:>4}  {k['killed']!s:>6}  {k['server_calls']:>6}  {k['ledger_calls']:>6}"
            f"  {k['excess']:>13}  {k['unanswered']:>10}  ({k['server_total']}/{k['ledger_total']})"
        )
    server = sum(k["server_calls"] for k in p["kills"])
    ledger = sum(k["ledger_calls"] for k in p["kills"])
    lines += [
        f"all kills: server {server}, ledger {ledger}; within the bound: {p['ledger_ok']}",
        "```",
        LEDGER_BEFORE.rstrip(),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", default=None)
    parser.add_argument("--time-limit", type=float, default=900)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--killed-only", action="store_true", help="only the killed phase (its ledger section)"
    )
    parser.add_argument(
        "--drift-only", action="store_true", help="only the drift phase (its own section)"
    )
    parser.add_argument("--drift-rate", type=float, default=0.2, help="drift phase: per page")
    parser.add_argument(
        "--big-cc-rows", type=int, default=1000, help="drift phase: objects of one cost centre"
    )
    args = parser.parse_args()
    server_url = args.url or database_url(default=EMBEDDED)
    deadline = time.monotonic() + args.time_limit
    summary: dict[str, Any] = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "scale": args.scale,
        "seed": args.seed,
    }
    drift_header = render_drift_header(summary, args)
    if args.drift_only:
        summary["drift"] = drift_phase(args, VARIABLES, scratch_database, drop_database, server_url)
        body = render_drift(summary["drift"], drift_header)
        print(body)
        if not args.no_write:
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "faults_drift.json").write_text(
                json.dumps(summary, indent=2) + "\n", encoding="utf-8"
            )
            write_section(DRIFT_SECTION, body, RESULTS_MD)
        return 0 if all(r["ok"] and r["parity"] for r in summary["drift"]) else 1
    if args.killed_only:
        summary["killed"] = killed_phase(args, server_url, deadline)
        body = render_ledger(summary)
        print(body)
        if not args.no_write:
            write_section(LEDGER_SECTION, body, RESULTS_MD)
        return 0 if summary["killed"]["ledger_ok"] else 1
    summary["faulted"] = faulted_phase(args, server_url, deadline)
    summary["killed"] = killed_phase(args, server_url, deadline)
    summary["drift"] = drift_phase(args, VARIABLES, scratch_database, drop_database, server_url)
    body = render(summary)
    print(body)
    print(render_ledger(summary))
    print(render_drift(summary["drift"], drift_header))
    if not args.no_write:
        write_section(LEDGER_SECTION, render_ledger(summary), RESULTS_MD)
        write_section(DRIFT_SECTION, render_drift(summary["drift"], drift_header), RESULTS_MD)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "faults.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        (RESULTS / "faults.txt").write_text(body + "\n", encoding="utf-8")
        write_section(SECTION, body, RESULTS_MD)
    bad = any(
        summary[p][k]
        for p in ("faulted", "killed")
        for k in ("lost", "extra", "differing", "duplicate_open_versions")
    )
    drift_bad = not all(r["ok"] and r["parity"] for r in summary["drift"])
    return 1 if bad or drift_bad or not summary["killed"]["ledger_ok"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
