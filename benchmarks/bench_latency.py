"""Full syncs under per-response latency: the product against dlt's `rest_api`, and the bound.

The simulator (its `latency_ms` fault: every API response waits that long) serves one
account at each scale; per latency, each tool runs a full sync into a fresh database, the
tools taking turns (`sync_runs.measure`: seconds inside the child, calls from the
simulator's counter, rows in the database, peak RSS). Tools: `product`, `dlt` (rest_api
with dlt's defaults: every page after the one before) and `dlt-parallel` (rest_api's
`parallelized` source and dependent resource, dlt's own parallel option).

The bound is what latency alone allows: latency x the product's calls / the calls it may
have in flight (the client's cap, the larger of page_concurrency and scope_concurrency;
equal to page_concurrency whenever that is the larger). Goal (issue 17): product >= 5x
faster than dlt's fastest option at 0, 50 and 100 ms, and within 15 % of the bound.

`--sweep` runs the product alone at one scale and latency (100k, 100 ms) with
page_concurrency 1, the default, 2x and 4x the default (`--page-concurrency-values`
override; `--page-concurrency` and `--scope-concurrency` set the product's values for a
matrix, and the latter for a sweep: the product child replaces config/sync.yaml's values,
the file is not touched).

`--tree PATH` runs the simulator and the product from another checkout (e.g. a
`git worktree` of an older commit) with this venv; `--label` names the figures (e.g.
before, after), kept side by side in results/latency.json and RESULTS.md.

Usage (one command per table; see benchmarks/README.md):
    .venv/bin/python benchmarks/bench_latency.py --label after [--scales 10000 100000]
        [--latencies 0 50 100] [--tools product dlt dlt-parallel] [--repeat N]
    .venv/bin/python benchmarks/bench_latency.py --label after --sweep
    .venv/bin/python benchmarks/bench_latency.py --render-only    # markdown, RESULTS.md
    .venv/bin/python benchmarks/bench_latency.py --quick          # < 1 min, own file
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import latency_report
import yaml
from sync_runs import (
    DLT_PYTHON,
    OUT_DIR,
    RESULTS_DIR,
    ROOT,
    RunSpec,
    database_server,
    dlt_version,
    measure,
    median_run,
    sim_faults,
    simulator,
)

TOOLS = ("product", "dlt", "dlt-parallel")
SCALES = (10_000, 100_000)
LATENCIES_MS = (0, 50, 100)
REPEATS = {10_000: 3}  # runs per tool and cell, the median reported (1 elsewhere)
QUICK = {"scales": [2_000], "latencies": [0, 50], "repeat": 1}


def tree_commit(tree: Path) -> str:
    """`tree`'s commit, with "+N changed files" when its work tree differs from it."""
    git = ["git", "-C", str(tree)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    changed = len([line for line in status.stdout.splitlines() if not line.startswith("??")])
    return commit.stdout.strip() + (f" +{changed} changed files" if changed else "")


def default_page_concurrency(tree: Path) -> int:
    """config/sync.yaml's page_concurrency in `tree` (what the product runs with)."""
    config = yaml.safe_load((tree / "config" / "sync.yaml").read_text(encoding="utf-8"))
    return int(config["sync"]["page_concurrency"])


def run_cell(
    specs: list[RunSpec], origin: str, server_url: str, repeats: int, label: str
) -> dict[str, dict[str, Any]]:
    """Each spec `repeats` times, taking turns; the median run of each, keyed by spec key."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for attempt in range(1, repeats + 1):
        for spec in specs:
            print(f"{label}: {spec.log_name} run {attempt}/{repeats} ...", flush=True)
            result = measure(spec, origin, server_url)
            runs.setdefault(spec.log_name, []).append(result)
            brief = {k: result[k] for k in ("status", "rows", "calls", "seconds", "peak_rss_mb")}
            print(json.dumps(brief), flush=True)
    return {key: median_run(tool_runs) for key, tool_runs in runs.items()}


def run_matrix(args: argparse.Namespace, server_url: str, entry: dict[str, Any]) -> None:
    matrix = entry.setdefault("matrix", {})
    for scale in args.scales:
        repeats = args.repeat or REPEATS.get(scale, 1)
        with simulator(scale, args.seed, tree=args.tree) as origin:
            for latency in args.latencies:
                sim_faults(origin, {"latency_ms": latency})
                specs = [
                    RunSpec(
                        tool,
                        scale,
                        timeout=args.timeout,
                        tree=args.tree,
                        page_concurrency=args.page_concurrency if tool == "product" else None,
                        scope_concurrency=args.scope_concurrency if tool == "product" else None,
                        log_name=tool,
                    )
                    for tool in args.tools
                ]
                cell = run_cell(specs, origin, server_url, repeats, f"{scale:,} @ {latency} ms")
                previous = matrix.setdefault(str(scale), {}).get(str(latency), {})
                merged = {**previous, **cell}
                merged["verdict"] = latency_report.judge(merged, latency)
                matrix[str(scale)][str(latency)] = merged
                print(latency_report.verdict_line(scale, latency, merged["verdict"]), flush=True)


def run_sweep(args: argparse.Namespace, server_url: str, entry: dict[str, Any]) -> None:
    default = default_page_concurrency(args.tree)
    values = args.page_concurrency_values or [1, default, 2 * default, 4 * default]
    repeats = args.repeat or REPEATS.get(args.sweep_scale, 1)
    with simulator(args.sweep_scale, args.seed, tree=args.tree) as origin:
        sim_faults(origin, {"latency_ms": args.sweep_latency})
        specs = [
            RunSpec(
                "product",
                args.sweep_scale,
                timeout=args.timeout,
                tree=args.tree,
                page_concurrency=value,
                scope_concurrency=args.scope_concurrency,
                log_name=f"product-pc{value}",
            )
            for value in values
        ]
        label = f"sweep {args.sweep_scale:,} @ {args.sweep_latency} ms"
        cell = run_cell(specs, origin, server_url, repeats, label)
    key = f"{args.sweep_scale}@{args.sweep_latency}"
    if args.scope_concurrency:
        key += f" scope_concurrency={args.scope_concurrency}"
    sweep = entry.setdefault("sweeps", {}).setdefault(key, {})
    sweep.update(scale=args.sweep_scale, latency_ms=args.sweep_latency, default=default)
    sweep["scope_concurrency"] = args.scope_concurrency
    points = sweep.setdefault("points", {})
    for value, spec in zip(values, specs, strict=True):
        run = cell[spec.log_name]
        run["bound"] = latency_report.bound(run, args.sweep_latency)
        points[str(value)] = run


def machine(args: argparse.Namespace) -> str:
    database = "PostgreSQL at --database-url" if args.database_url else "embedded PostgreSQL"
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},"
        f" {database}, dlt {dlt_version()}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="current", help="name of these figures")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the product's source tree")
    parser.add_argument("--scales", type=int, nargs="+", default=list(SCALES))
    parser.add_argument("--latencies", type=int, nargs="+", default=list(LATENCIES_MS))
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--repeat", type=int, help="runs per tool and cell (default: REPEATS)")
    parser.add_argument("--page-concurrency", type=int, help="the product's, for the matrix")
    parser.add_argument("--scope-concurrency", type=int, help="the product's (matrix, sweep)")
    parser.add_argument("--sweep", action="store_true", help="the page-concurrency sweep only")
    parser.add_argument("--sweep-scale", type=int, default=100_000)
    parser.add_argument("--sweep-latency", type=int, default=100)
    parser.add_argument(
        "--page-concurrency-values", type=int, nargs="+", help="sweep values (1 D 2D 4D)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument("--database-url", help="server where the user may CREATE DATABASE")
    parser.add_argument("--note", action="append", help="a line on the conditions (kept)")
    parser.add_argument("--quick", action="store_true", help="2k rows, 0/50 ms, one run each")
    parser.add_argument("--render-only", action="store_true", help="print/record, no runs")
    args = parser.parse_args()
    if args.quick:
        args.scales, args.latencies, args.repeat = QUICK["scales"], QUICK["latencies"], 1
        args.label = "quick"
    args.tree = args.tree.resolve()
    if not args.render_only and "dlt" in " ".join(args.tools) and not DLT_PYTHON.exists():
        parser.error(f"{DLT_PYTHON} missing: create the dlt venv (benchmarks/README.md)")
    return args


def main() -> None:
    args = parse_args()
    # A quick run keeps its own file, so it never replaces recorded figures.
    json_path = RESULTS_DIR / ("latency_quick.json" if args.quick else "latency.json")
    results = json.loads(json_path.read_text()) if json_path.exists() else {"labels": {}}
    if not args.render_only:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        server_url = database_server(args.database_url)
        entry = results["labels"].setdefault(args.label, {})
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        if args.sweep:
            run_sweep(args, server_url, entry)
        else:
            run_matrix(args, server_url, entry)
        entry.update(date=started, machine=machine(args), tree=tree_commit(args.tree))
        entry["cores"] = os.cpu_count()
        entry["load_avg_end"] = round(os.getloadavg()[0], 2)
        if args.note:
            entry["notes"] = [*entry.get("notes", []), *args.note]
        json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = latency_report.render(results)
    print(text)
    if not args.quick:
        latency_report.write_results_md(results)


if __name__ == "__main__":
    main()
