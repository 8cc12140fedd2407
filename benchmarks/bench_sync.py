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
from datetime import UTC, datetime
from typing import Any

import sync_runs
from results_md import write_section
from sync_runs import (
    BENCH_DIR,
    DLT_PYTHON,
    OUT_DIR,
    RESULTS_DIR,
    RunSpec,
    database_server,
    dlt_version,
    median_run,
    simulator,
)

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
SCALES = (10_000, 100_000, 1_000_000)
# Runs per tool and scale (the median run is reported): the smaller, the noisier.
REPEATS = {10_000: 5, 100_000: 3}
# --- one measured run per tool --------------------------------------------------------


def measure(tool: str, scale: int, origin: str, server_url: str, args: argparse.Namespace) -> dict:
    spec = RunSpec(
        tool,
        scale,
        timeout=args.product_timeout if tool == "product" else args.dlt_timeout,
        keep_database=args.keep_databases,
    )
    if tool == "product" and args.profile:
        spec.profile_to = RESULTS_DIR / f"sync_profile_{scale}.txt"
    if tool == "product" and args.py_spy:
        # Sampled stacks of every thread, idle ones too: where the wall time goes.
        flame = OUT_DIR / f"sync_pyspy_{scale}.txt"  # large: summarise it into results/
        spec.wrap = [args.py_spy, "record", "--idle", "--threads", "--format", "raw"]
        spec.wrap += ["--rate", "50", "--output", str(flame), "--"]
    return sync_runs.measure(spec, origin, server_url)


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
    args = parser.parse_args()
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
