"""Shared by the sync benchmarks (bench_sync.py, bench_latency.py): one measured full sync.

The pieces every full-sync benchmark needs: the simulator in its own process (optionally
from another source tree, with faults), scratch databases, the simulator's call counter
and fault settings, a measured child process (wall time, CPU, peak RSS via `os.wait4`),
and `measure`, which runs one of the syncing children into a fresh database: the product
(`product_child.py`) or dlt's `rest_api` pipeline (`dlt_pipeline.py` in
`benchmarks/.venv-dlt`, with dlt's defaults or its parallelized extraction).

A source tree other than this checkout (`tree=`, e.g. a `git worktree` of an older commit)
is put first on the children's PYTHONPATH, so the simulator and the product both run that
tree's code (its config/ included) with this checkout's venv.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from product_child import ACCOUNT
from psycopg import sql
from results_md import free_port
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
OUT_DIR = BENCH_DIR / "out"  # gitignored: logs, dlt working dirs
DLT_PYTHON = BENCH_DIR / ".venv-dlt" / "bin" / "python"
# Made-up credentials shared by the simulator and both tools (a local benchmark only).
CREDENTIALS = {
    "TAMPUURI_API_KEY": "5f0c2a9e-3b7d-4e21-9c6a-bench0000001",
    "TAMPUURI_CUSTOMER_NAME": "Benchmark Isännöinti Oy",
    "TAMPUURI_ACCOUNT_NAME": "bench",
    "TAMPUURI_USERNAME": "bench-user",
    "TAMPUURI_PASSWORD": "bench-password-not-secret",
    "TAMPUURI_SOFTWARE_VERSION": "tampuuri-sync-bench_v1",
}


# The running simulators' process ids by origin (their CPU is counted around a sync).
SIMULATOR_PIDS: dict[str, int] = {}

# --- processes ------------------------------------------------------------------------


def tree_env(tree: Path | None) -> dict[str, str]:
    """Environment entries that make children import `pipelines` from `tree`."""
    if tree is None or tree.resolve() == ROOT:
        return {}
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))}


@contextmanager
def simulator(
    scale: int, seed: int, *, faults: dict[str, Any] | None = None, tree: Path | None = None
) -> Iterator[str]:
    """The simulator at `scale` in its own process; yields its origin (http://host:port)."""
    port = free_port()
    cli = Path(sys.executable).parent / "tampuuri-sync"
    command = [str(cli), "simulator", "serve", "--scale", str(scale), "--seed", str(seed)]
    command += ["--accounts", ACCOUNT, "--port", str(port)]
    if faults:
        command += ["--faults", json.dumps(faults)]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **CREDENTIALS, **tree_env(tree)}
    with open(OUT_DIR / f"simulator-{scale}.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=ROOT)
        origin = f"http://127.0.0.1:{port}"
        SIMULATOR_PIDS[origin] = proc.pid
        try:
            deadline = time.monotonic() + 600
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"simulator exited with {proc.returncode}; see {log.name}")
                try:
                    if httpx.get(f"{origin}/_sim/transactions", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError("simulator did not start in 600 s")
                time.sleep(0.5)
            yield origin
        finally:
            SIMULATOR_PIDS.pop(origin, None)
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_child(
    command: list[str], env: dict[str, str], log_name: str, timeout: float
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Run a measured child; returns (its JSON line or None, {wall_s, peak_rss_mb, status})."""
    out_path, err_path = OUT_DIR / f"{log_name}.out", OUT_DIR / f"{log_name}.log"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=err, cwd=ROOT, start_new_session=True
        )
        status = "ok"
        while True:
            # os.wait4, not Popen.wait: it returns this child's own rusage (peak RSS).
            pid, code, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                _, code, usage = os.wait4(proc.pid, 0)
                status = "timeout"
                break
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(code)  # keeps Popen from waiting again
        wall = time.perf_counter() - started
    if status == "ok" and proc.returncode != 0:
        status = f"exit {proc.returncode} (see {err_path})"
    # The figures are the last JSON line (a profiler wrapping the child may print after it).
    text = out_path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if status == "ok" and lines else None
    cpu = usage.ru_utime + usage.ru_stime
    return result, {
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "status": status,
    }


# --- databases and the simulator's admin API ------------------------------------------


def create_database(server_url: str, name: str) -> str:
    """A new empty database on the server; returns its SQLAlchemy URL."""
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(libpq(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def table_counts(url: str, schema: str) -> dict[str, int]:
    """Rows per table of `schema` (dlt's bookkeeping tables and history tables excluded)."""
    with psycopg.connect(libpq(url)) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
            " AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_dlt%%'"
            " AND table_name NOT LIKE '%%\\_history' ORDER BY 1",
            (schema,),
        ).fetchall()
        return {
            name: conn.execute(
                sql.SQL("SELECT count(*) FROM {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            ).fetchone()[0]  # type: ignore[index]
            for (name,) in tables
        }


def sim_calls(origin: str) -> int:
    return int(httpx.get(f"{origin}/_sim/transactions", timeout=10).json()["total"])


def sim_reset(origin: str) -> None:
    httpx.post(f"{origin}/_sim/transactions/reset", timeout=10).raise_for_status()


def sim_faults(origin: str, faults: dict[str, Any]) -> None:
    """Replace the running simulator's fault settings (e.g. `{"latency_ms": 50}`)."""
    httpx.put(f"{origin}/_sim/faults", json=faults, timeout=10).raise_for_status()


def database_server(given: str | None) -> str:
    """The server to create scratch databases on: --database-url, else the embedded one."""
    from pipelines.warehouse.engine import embedded_database_url, to_sqlalchemy_url

    return to_sqlalchemy_url(given) if given else embedded_database_url()


def dlt_version() -> str:
    """The dlt release the baseline ran on (recorded with the figures)."""
    if not DLT_PYTHON.exists():
        return "not installed"
    probe = [str(DLT_PYTHON), "-c", "import dlt; print(dlt.__version__)"]
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


# --- one measured run -----------------------------------------------------------------


@dataclasses.dataclass
class RunSpec:
    """What to run: `tool` is "product", "dlt" (dlt's defaults) or "dlt-parallel"."""

    tool: str
    scale: int
    timeout: float = 1800.0
    tree: Path | None = None  # the product's source tree (None: this checkout)
    page_concurrency: int | None = None  # product only: override config/sync.yaml
    scope_concurrency: int | None = None  # product only: override config/sync.yaml
    profile_to: Path | None = None  # product only: cProfile report
    wrap: list[str] = dataclasses.field(default_factory=list)  # e.g. a py-spy command line
    keep_database: bool = False
    log_name: str = ""


def measure(spec: RunSpec, origin: str, server_url: str) -> dict[str, Any]:
    """One full sync by `spec.tool` into a fresh database: seconds, rows, calls, peak RSS."""
    product = spec.tool == "product"
    name = f"bench_{spec.tool.replace('-', '_')}_{spec.scale}_{uuid.uuid4().hex[:6]}"
    url = create_database(server_url, name)
    env = {
        **os.environ,
        **CREDENTIALS,
        "BENCH_BASE_URL": f"{origin}/v10/api/",
        "BENCH_DATABASE_URL": url if product else libpq(url),
    }
    workdir = OUT_DIR / f"dlt-{spec.scale}-{uuid.uuid4().hex[:6]}"
    try:
        if product:
            env.update(tree_env(spec.tree))
            if spec.page_concurrency:
                env["BENCH_PAGE_CONCURRENCY"] = str(spec.page_concurrency)
            if spec.scope_concurrency:
                env["BENCH_SCOPE_CONCURRENCY"] = str(spec.scope_concurrency)
            if spec.profile_to:
                env["BENCH_PROFILE"] = str(spec.profile_to)
            if origin in SIMULATOR_PIDS:
                env["BENCH_SIMULATOR_PID"] = str(SIMULATOR_PIDS[origin])
            command = [*spec.wrap, sys.executable, str(BENCH_DIR / "product_child.py")]
            schema = "tampuuri"
        else:
            env["BENCH_PIPELINES_DIR"] = str(workdir)
            if spec.tool == "dlt-parallel":
                env["BENCH_DLT_PARALLEL"] = "1"
            command = [str(DLT_PYTHON), str(BENCH_DIR / "dlt_pipeline.py")]
            schema = "tampuuri_dlt"
        sim_reset(origin)
        load_before = os.getloadavg()[0]
        log_name = spec.log_name or f"{spec.tool}-{spec.scale}"
        child, process = run_child(command, env, log_name, spec.timeout)
        load_after = os.getloadavg()[0]
        calls = sim_calls(origin)
        counts = table_counts(url, schema) if process["status"] == "ok" else {}
    finally:
        if not spec.keep_database:
            drop_database(server_url, name)
        shutil.rmtree(workdir, ignore_errors=True)
    rows = sum(counts.values())
    seconds = (child or {}).get("seconds") or process["wall_s"]
    return {
        "tool": spec.tool,
        "status": process["status"],
        "rows": rows,
        "tables": counts,
        "calls": calls,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds) if rows else 0,
        "process_wall_s": round(process["wall_s"], 3),
        "process_cpu_s": round(process["cpu_s"], 3),
        "peak_rss_mb": round(process["peak_rss_mb"], 1),
        # The machine may be shared: the 1-minute load average around the run says how much.
        "load_avg": [round(load_before, 2), round(load_after, 2)],
        "detail": child,
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median seconds (the lower middle one of an even count), with every
    run's seconds and the highest peak RSS of them all; failed if any run failed."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["runs_seconds"] = [r["seconds"] for r in runs]
    chosen["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    failed = [r["status"] for r in runs if r["status"] != "ok"]
    if failed:
        chosen["status"] = failed[0]
    return chosen
