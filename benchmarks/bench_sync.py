"""Sync throughput and memory: the product's full sync against a dlt `rest_api` pipeline.

For each scale (total simulator rows of one account; default 10k, 100k and 1M):

1. the simulator is started as its own process (`tampuuri-sync simulator serve`), so its
   CPU is never counted against a sync;
2. the product's `run_sync(..., SyncRequest(account, full=True))` runs in a child process
   into a fresh, migrated database;
3. `benchmarks/dlt_pipeline.py` runs in a child process of the dlt venv
   (`benchmarks/.venv-dlt`) into another fresh database, reading the same simulator.

Per tool: seconds of the run itself (measured inside the child, so interpreter start and
imports are excluded; the child's whole wall time is recorded too), rows written (counted
in the database), API calls (the simulator's transaction counter; for the product also its
own report) and peak RSS of the child (`os.wait4`: the child and what it waited for).

Small scales are over in a second, where this shared machine's noise is +-15 % from one
run to the next: each tool runs several times per scale (5 at 10k, 3 at 100k, 1 at 1M;
`--repeat` overrides), the two tools taking turns, and the run with the median seconds is
the one reported (with every run's seconds beside it).

Usage:
    .venv/bin/python benchmarks/bench_sync.py [--scales 10000 100000] [--tools product dlt]
        [--repeat N] [--database-url URL] [--dlt-timeout 1800] [--profile]

Writes benchmarks/results/sync.json (merged by scale with earlier runs), sync.txt and the
"Sync throughput vs dlt" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from results_md import free_port, write_section
from sqlalchemy.engine import make_url

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
OUT_DIR = BENCH_DIR / "out"  # gitignored: logs, dlt working dirs
RESULTS_MD = BENCH_DIR / "RESULTS.md"
SECTION = "## Sync throughput vs dlt"
SECTION_INTRO = """Full sync of one account into a fresh database; the simulator in its own process.
Seconds: the run itself, measured inside the syncing process (interpreter start and
imports excluded); at 10k and 100k the median of several runs, the tools taking turns.
Rows: rows in the destination tables (the product also writes parties as their own table;
dlt keeps them inside the link rows and adds a child table for their `Parametrit` lists).
Calls: the simulator's transaction counter. Peak RSS: the syncing process. Ratio: product
rows/s over dlt rows/s, and dlt seconds over product seconds for the same API items.
Goal: product >= 5x dlt; product peak memory flat from 100k to 1M. The machine may be
shared with other work (`load_avg` in `results/sync.json` says how much; the notes below
say what it was): both tools of one scale run under the same load."""
DLT_PYTHON = BENCH_DIR / ".venv-dlt" / "bin" / "python"
SCALES = (10_000, 100_000, 1_000_000)
# Runs per tool and scale (the median run is reported): the smaller, the noisier.
REPEATS = {10_000: 5, 100_000: 3}
ACCOUNT = "bench"
PRODUCT_TABLES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")
# Made-up credentials shared by the simulator and both tools (a local benchmark only).
CREDENTIALS = {
    "TAMPUURI_API_KEY": "5f0c2a9e-3b7d-4e21-9c6a-bench0000001",
    "TAMPUURI_CUSTOMER_NAME": "Benchmark Isännöinti Oy",
    "TAMPUURI_ACCOUNT_NAME": "bench",
    "TAMPUURI_USERNAME": "bench-user",
    "TAMPUURI_PASSWORD": "bench-password-not-secret",
    "TAMPUURI_SOFTWARE_VERSION": "tampuuri-sync-bench_v1",
}


# --- the product's child process ------------------------------------------------------


def product_child() -> None:
    """Run the product's full sync (inside the child); print one JSON line of figures."""
    import resource

    from pipelines.settings import SINGLE_ACCOUNT_VARIABLES, AccountConfig
    from pipelines.sync.engine import SyncRequest, run_sync
    from pipelines.warehouse.engine import make_engine

    account = AccountConfig.model_validate(
        {
            "name": ACCOUNT,
            "base_url": os.environ["BENCH_BASE_URL"],
            # The benchmark measures throughput, not the budget guard: a package that fits.
            "package": "enterprise",
            "credentials": SINGLE_ACCOUNT_VARIABLES,
        }
    )
    engine = make_engine(os.environ["BENCH_DATABASE_URL"])
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = run_sync(engine, SyncRequest(account, full=True), environ=os.environ)
    seconds = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        with open(profile_to, "w", encoding="utf-8") as out:
            stats = pstats.Stats(profiler, stream=out).strip_dirs()
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(30)
    engine.dispose()
    figures = {
        "seconds": seconds,
        "ok": report.ok,
        "calls_reported": report.calls,
        "retries": report.retries,
        "inserted": sum(r.counts.inserted for r in report.resources),
        "errors": [r.error for r in report.resources if r.error],
        "resources": {
            r.resource: {"seconds": round(r.seconds, 3), "calls": r.calls, "scopes": r.scopes_total}
            for r in report.resources
        },
        "peak_rss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(figures))


# --- processes ------------------------------------------------------------------------


@contextmanager
def simulator(scale: int, seed: int) -> Iterator[str]:
    """The simulator at `scale` in its own process; yields its origin (http://host:port)."""
    port = free_port()
    cli = Path(sys.executable).parent / "tampuuri-sync"
    command = [str(cli), "simulator", "serve", "--scale", str(scale), "--seed", str(seed)]
    command += ["--accounts", ACCOUNT, "--port", str(port)]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with open(OUT_DIR / f"simulator-{scale}.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            command, env={**os.environ, **CREDENTIALS}, stdout=log, stderr=log, cwd=ROOT
        )
        origin = f"http://127.0.0.1:{port}"
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


# --- databases and the simulator's counter --------------------------------------------


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


# --- one measured run per tool --------------------------------------------------------


def measure(tool: str, scale: int, origin: str, server_url: str, args: argparse.Namespace) -> dict:
    name = f"bench_sync_{tool}_{scale}_{uuid.uuid4().hex[:6]}"
    url = create_database(server_url, name)
    env = {
        **os.environ,
        **CREDENTIALS,
        "BENCH_BASE_URL": f"{origin}/v10/api/",
        "BENCH_DATABASE_URL": url if tool == "product" else libpq(url),
    }
    try:
        if tool == "product":
            from pipelines.warehouse.engine import make_engine
            from pipelines.warehouse.migrations import upgrade

            engine = make_engine(url, pool_size=1)
            upgrade(engine)  # schema setup is not part of the measured sync
            engine.dispose()
            if args.profile:
                env["BENCH_PROFILE"] = str(RESULTS_DIR / f"sync_profile_{scale}.txt")
            command = [sys.executable, str(Path(__file__).resolve()), "--child-product"]
            if args.py_spy:
                # Sampled stacks of every thread, idle ones too: where the wall time goes.
                flame = OUT_DIR / f"sync_pyspy_{scale}.txt"  # large: summarise it into results/
                command = [
                    args.py_spy,
                    "record",
                    "--idle",
                    "--threads",
                    "--format",
                    "raw",
                    "--rate",
                    "50",
                    "--output",
                    str(flame),
                    "--",
                    *command,
                ]
            timeout, schema = args.product_timeout, "tampuuri"
        else:
            workdir = OUT_DIR / f"dlt-{scale}-{uuid.uuid4().hex[:6]}"
            env["BENCH_PIPELINES_DIR"] = str(workdir)
            command = [str(DLT_PYTHON), str(BENCH_DIR / "dlt_pipeline.py")]
            timeout, schema = args.dlt_timeout, "tampuuri_dlt"
        sim_reset(origin)
        load_before = os.getloadavg()[0]
        child, process = run_child(command, env, f"{tool}-{scale}", timeout)
        load_after = os.getloadavg()[0]
        calls = sim_calls(origin)
        counts = table_counts(url, schema) if process["status"] == "ok" else {}
    finally:
        if not args.keep_databases:
            drop_database(server_url, name)
        if tool == "dlt":
            shutil.rmtree(workdir, ignore_errors=True)
    rows = sum(counts.values())
    seconds = (child or {}).get("seconds") or process["wall_s"]
    return {
        "tool": tool,
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


# --- reporting ------------------------------------------------------------------------


def compare(product: dict | None, dlt: dict | None) -> dict[str, Any]:
    """Ratios on two bases: rows written per second, and time for the same API items."""
    if not product or not dlt or not product["rows"] or not dlt["rows"]:
        return {}
    return {
        "rows_per_s_ratio": round(product["rows_per_s"] / dlt["rows_per_s"], 2),
        "same_input_speedup": round(dlt["seconds"] / product["seconds"], 2),
    }


def render(results: dict[str, Any]) -> str:
    lines = [
        f"{'scale':>9} {'tool':<8} {'rows':>9} {'calls':>6} {'seconds':>8} {'rows/s':>8}"
        f" {'peak RSS MB':>11}  status",
    ]
    for scale in sorted(results["scales"], key=int):
        entry = results["scales"][scale]
        for tool in ("product", "dlt"):
            r = entry.get(tool)
            if r:
                lines.append(
                    f"{int(scale):>9,} {tool:<8} {r['rows']:>9,} {r['calls']:>6,}"
                    f" {r['seconds']:>8.2f} {r['rows_per_s']:>8,} {r['peak_rss_mb']:>11.0f}"
                    f"  {r['status']}"
                )
        measured = [entry[t] for t in ("product", "dlt") if entry.get(t)]
        if any(len(r.get("runs_seconds", ())) > 1 for r in measured):
            spread = ", ".join(
                f"{r['tool']} {min(r['runs_seconds']):.2f}-{max(r['runs_seconds']):.2f} s"
                for r in measured
            )
            count = len(measured[0]["runs_seconds"])
            lines.append(f"{'':>9} runs     median of {count}; all runs {spread}")
        ratio = entry.get("ratio") or {}
        if ratio:
            lines.append(
                f"{'':>9} ratio    rows/s product/dlt {ratio['rows_per_s_ratio']}x,"
                f" same input dlt/product time {ratio['same_input_speedup']}x"
            )
    return "\n".join(lines)


def write_results_md(results: dict[str, Any], table: str) -> None:
    """Replace only this benchmark's section of RESULTS.md (others own the other sections)."""
    notes = [f"- {note}" for note in [*results.get("notes", []), *results.get("findings", [])]]
    header = f"`benchmarks/bench_sync.py`, {results['date']}, {results['machine']}."
    body = "\n".join([SECTION, "", header, SECTION_INTRO, "", "```", table, "```", "", *notes])
    write_section(SECTION, body.removeprefix(SECTION), RESULTS_MD)


def goal_notes(scales: dict[str, Any]) -> list[str]:
    notes = []
    for scale, entry in sorted(scales.items(), key=lambda kv: int(kv[0])):
        ratio = (entry.get("ratio") or {}).get("rows_per_s_ratio")
        if ratio is not None:
            verdict = "met" if ratio >= 5 else "NOT met"
            notes.append(f"{int(scale):,}: product/dlt rows/s {ratio}x, goal >= 5x {verdict}")
    p100, p1m = (scales.get(s, {}).get("product") for s in ("100000", "1000000"))
    if p100 and p1m:
        growth = p1m["peak_rss_mb"] / p100["peak_rss_mb"]
        verdict = "flat" if growth <= 1.25 else "NOT flat"
        notes.append(f"product peak RSS 100k -> 1M: x{growth:.2f} ({verdict})")
    return notes


def dlt_version() -> str:
    """The dlt release the baseline ran on (it is not pinned: record it with the figures)."""
    if not DLT_PYTHON.exists():
        return "not installed"
    probe = [str(DLT_PYTHON), "-c", "import dlt; print(dlt.__version__)"]
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


def database_server(given: str | None) -> str:
    """The server to create scratch databases on: --database-url, else the embedded one."""
    from pipelines.warehouse.engine import embedded_database_url, to_sqlalchemy_url

    return to_sqlalchemy_url(given) if given else embedded_database_url()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=list(SCALES))
    parser.add_argument(
        "--tools", nargs="+", choices=("product", "dlt"), default=["product", "dlt"]
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, help="runs per tool and scale (default: REPEATS)")
    parser.add_argument("--database-url", help="server where the user may CREATE DATABASE")
    parser.add_argument("--dlt-timeout", type=float, default=1800.0)
    parser.add_argument("--product-timeout", type=float, default=1800.0)
    parser.add_argument("--profile", action="store_true", help="cProfile the product child")
    parser.add_argument("--py-spy", metavar="PATH", help="py-spy binary: sample the product")
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument(
        "--finding", action="append", help="a why-line for RESULTS.md (replaces earlier ones)"
    )
    parser.add_argument(
        "--render-only", action="store_true", help="rewrite sync.txt and RESULTS.md from sync.json"
    )
    parser.add_argument("--child-product", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_product:
        product_child()
        return
    if "dlt" in args.tools and not args.render_only and not DLT_PYTHON.exists():
        parser.error(f"{DLT_PYTHON} missing: create the dlt venv (benchmarks/README.md)")
    server_url = "" if args.render_only else database_server(args.database_url)
    json_path = RESULTS_DIR / "sync.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {"scales": {}}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for scale in [] if args.render_only else args.scales:
        runs: dict[str, list[dict[str, Any]]] = {tool: [] for tool in args.tools}
        repeats = args.repeat or REPEATS.get(scale, 1)
        with simulator(scale, args.seed) as origin:
            for attempt in range(1, repeats + 1):
                for tool in args.tools:  # the tools take turns: both see the same noise
                    print(f"scale {scale:,}: {tool} run {attempt}/{repeats} ...", flush=True)
                    runs[tool].append(measure(tool, scale, origin, server_url, args))
                    print(json.dumps({k: v for k, v in runs[tool][-1].items() if k != "detail"}))
        entry = {tool: median_run(tool_runs) for tool, tool_runs in runs.items()}
        previous = results["scales"].get(str(scale), {})
        merged = {**previous, **entry}
        merged["ratio"] = compare(merged.get("product"), merged.get("dlt"))
        results["scales"][str(scale)] = merged
    if not args.render_only:
        results["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        database = "PostgreSQL at --database-url" if args.database_url else "embedded PostgreSQL"
        results["machine"] = (
            f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},"
            f" {database}"
        )
        if "dlt" in args.tools:
            results["machine"] += f", dlt {dlt_version()}"
    results["notes"] = goal_notes(results["scales"])
    if args.finding:
        results["findings"] = args.finding
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = render(results)
    (RESULTS_DIR / "sync.txt").write_text(
        f"bench_sync {results['date']} {results['machine']}\n{table}\n"
        + "\n".join(results["notes"])
        + "\n",
        encoding="utf-8",
    )
    write_results_md(results, table)
    print(table)
    print("\n".join(results["notes"]))


if __name__ == "__main__":
    main()
