"""Interleaved A/B: the product's full sync from two source trees, taking turns on one simulator.

On a shared machine timings drift by 10 % from one minute to the next, so two trees
measured one after the other can differ by more than a change does. Here one simulator
(from `--after`'s tree) serves both, each run into a fresh database, and the trees take
turns (before, after; then after, before; ...), so a drift of the machine falls on both.
Per tree: the median seconds of the sync, the event loop's CPU seconds and the PostgreSQL
server's (`product_child.py`'s `CpuMeter`), with the calls and rows of every run, which
must be the same for both trees (a change that alters them is not a speed change).

`--before` is typically a `git worktree` of the commit before the change; `--after`
defaults to this checkout. Figures go to results/ab.json (keyed by `--label`) and the
"Interleaved A/B" section of RESULTS.md.

Usage:
    git worktree add /tmp/before HEAD
    .venv/bin/python benchmarks/bench_ab.py --label two-turns --before /tmp/before \\
        --scale 100000 --latency 100 --repeat 4 --note "ScopeTurns at 2x the client's cap"
    .venv/bin/python benchmarks/bench_ab.py --render-only   # RESULTS.md from results/ab.json
    .venv/bin/python benchmarks/bench_ab.py --quick         # A/A smoke, 2k rows, own file
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_latency import tree_commit
from results_md import write_section
from sync_runs import (
    OUT_DIR,
    RESULTS_DIR,
    ROOT,
    RunSpec,
    database_server,
    measure,
    sim_faults,
    simulator,
)

SECTION = "## Interleaved A/B"
INTRO = """`benchmarks/bench_ab.py`: the product's full sync from two source trees, taking turns on
one simulator, each run into a fresh database; medians per tree. Calls and rows must be
equal for both trees. A difference smaller than the spread of a tree's own runs is noise."""


def run_pair(args: argparse.Namespace, server_url: str) -> dict[str, Any]:
    trees = {"before": args.before, "after": args.after}
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    with simulator(args.scale, args.seed, tree=args.after) as origin:
        sim_faults(origin, {"latency_ms": args.latency})
        measure(
            RunSpec("product", args.scale, tree=args.after, log_name="ab-warm"), origin, server_url
        )
        for attempt in range(args.repeat):
            order = ["before", "after"] if attempt % 2 == 0 else ["after", "before"]
            for name in order:
                spec = RunSpec("product", args.scale, tree=trees[name], log_name=f"ab-{name}")
                result = measure(spec, origin, server_url)
                if result["status"] != "ok":
                    raise SystemExit(f"{name} run {attempt + 1}: {result['status']}")
                cpu = result["detail"].get("cpu_s") or {}
                runs[name].append(
                    {
                        "seconds": result["seconds"],
                        "loop_cpu_s": cpu.get("loop"),
                        "postgres_cpu_s": cpu.get("postgres"),
                        "calls": result["calls"],
                        "rows": result["rows"],
                    }
                )
                print(f"{name} run {attempt + 1}/{args.repeat}: {json.dumps(runs[name][-1])}")
    outcome: dict[str, Any] = {}
    for name, tree_runs in runs.items():
        outcome[name] = {
            "tree": tree_commit(trees[name]),
            "runs_seconds": [r["seconds"] for r in tree_runs],
            "seconds": statistics.median(r["seconds"] for r in tree_runs),
            "loop_cpu_s": _median(r["loop_cpu_s"] for r in tree_runs),
            "postgres_cpu_s": _median(r["postgres_cpu_s"] for r in tree_runs),
            "calls": sorted({r["calls"] for r in tree_runs}),
            "rows": sorted({r["rows"] for r in tree_runs}),
        }
    same_work = (
        outcome["before"]["calls"] == outcome["after"]["calls"]
        and outcome["before"]["rows"] == outcome["after"]["rows"]
    )
    change = outcome["after"]["seconds"] / outcome["before"]["seconds"] - 1
    return {**outcome, "same_work": same_work, "change": round(change, 3)}


def _median(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def render(results: dict[str, Any]) -> str:
    lines = [
        "| label | rows | latency | runs | before s | after s | change | loop CPU s"
        " (before / after) | PostgreSQL CPU s (before / after) | same calls and rows |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    notes: list[str] = []
    for label, entry in results["labels"].items():
        for cell in entry["cells"].values():
            before, after = cell["before"], cell["after"]
            lines.append(
                f"| {label} | {cell['scale']:,} | {cell['latency_ms']} ms"
                f" | {len(after['runs_seconds'])} | {before['seconds']:.2f}"
                f" | {after['seconds']:.2f} | {cell['change']:+.1%}"
                f" | {before['loop_cpu_s']} / {after['loop_cpu_s']}"
                f" | {before['postgres_cpu_s']} / {after['postgres_cpu_s']}"
                f" | {'yes' if cell['same_work'] else 'NO'} |"
            )
        notes.append(
            f"- {label} ({entry['date']}; before {entry['before_tree']}, after"
            f" {entry['after_tree']}): {' '.join(entry.get('notes', []))}"
        )
    return "\n".join([*lines, "", *notes])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--label", default="current", help="name of this comparison")
    parser.add_argument("--before", type=Path, help="the tree before the change (required)")
    parser.add_argument("--after", type=Path, default=ROOT, help="the tree after (default: here)")
    parser.add_argument("--scale", type=int, default=100_000)
    parser.add_argument("--latency", type=int, default=100, help="ms per API response")
    parser.add_argument("--repeat", type=int, default=4, help="runs per tree")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="server where the user may CREATE DATABASE")
    parser.add_argument("--note", action="append", help="what the change is (kept)")
    parser.add_argument("--quick", action="store_true", help="2k rows, 0 ms, 1 run, A/A, own file")
    parser.add_argument("--render-only", action="store_true", help="redraw RESULTS.md, no runs")
    args = parser.parse_args()
    if args.render_only:
        return args
    if args.quick:  # a smoke run: this tree against itself; never replaces recorded figures
        args.before, args.scale, args.latency, args.repeat = args.before or ROOT, 2_000, 0, 1
        args.label = "quick"
    if args.before is None:  # (not needed to render)
        parser.error("--before is required (a worktree of the commit before the change)")
    args.before, args.after = args.before.resolve(), args.after.resolve()
    return args


def write_results_md(results: dict[str, Any]) -> None:
    write_section(SECTION, f"{INTRO}\n\n{render(results)}")


def main() -> None:
    args = parse_args()
    json_path = RESULTS_DIR / ("ab_quick.json" if args.quick else "ab.json")
    results = json.loads(json_path.read_text()) if json_path.exists() else {"labels": {}}
    if args.render_only:
        print(render(results))
        write_results_md(results)
        return
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cell = run_pair(args, database_server(args.database_url))
    cell.update(scale=args.scale, latency_ms=args.latency)
    entry = results["labels"].setdefault(args.label, {"cells": {}})
    entry["cells"][f"{args.scale}@{args.latency}"] = cell
    entry.update(
        date=started,
        before_tree=tree_commit(args.before),
        after_tree=tree_commit(args.after),
        cores=os.cpu_count(),
    )
    notes = entry.setdefault("notes", [])
    notes.extend(note for note in args.note or [] if note not in notes)
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = render(results)
    print(text)
    if not args.quick:
        write_results_md(results)


if __name__ == "__main__":
    main()
