"""A month of calls (issue 6): three strategies and a frugal profile, calls, € and freshness.

Runs the reference portfolio (300 cost centres) through simulated days in compressed
time against the simulator, once per strategy, each on a fresh simulator (same seed,
same changes) and a fresh scratch warehouse:

  naive           nightly full pull
  incremental     nightly incremental only
  default         webhooks (seconds) + the nightly reconciliation sweep (cost centres and
                  the link list re-read within 7 nights, drift searched the same night)
  default-daily   the same, with every cost centre and the link list re-read nightly
  default-5min    the default with webhooks batched every 5 minutes
  default-15min   ... every 15 minutes
  frugal          webhooks batched hourly + cost centres re-read within 7 nights, the link
                  list monthly, drift left to that read
  frugal-monthly  the same with cost centres re-read within 30 nights

Every call is a real HTTP request to the simulator and counted by its transaction
counter; every write goes through the product's loader. Calls are counted over the
simulated days (after an uncounted initial load) and scaled to 30 days; the default is
30 days, so nothing is scaled.

Usage:
    .venv/bin/python benchmarks/bench_month.py [--days 30] [--profiles naive default ...]
        [--scale 51700] [--changes-per-day 150] [--new-notices-per-day 100]
        [--miss-rate 0.02] [--url URL]
        [--write-results]

The database: --url, else $TAMPUURI_DATABASE_URL, else the embedded server. Writes
benchmarks/results/month.json and month.txt; --write-results also rewrites this
benchmark's section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from month import floor_report
from month.notes import FLOOR_NOTES, METHOD, PROPOSALS
from month.profiles import PROFILES
from month.report import HEADING, phases, row, table, workload_line
from month.runner import StrategyResult, Workload, run_strategy
from month.verdict import verdicts
from results_md import write_section

from pipelines.warehouse.engine import EMBEDDED, database_url

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", type=int, default=Workload.scale)
    parser.add_argument("--seed", type=int, default=Workload.seed)
    parser.add_argument("--changes-per-day", type=int, default=Workload.changes_per_day)
    parser.add_argument("--new-notices-per-day", type=int, default=Workload.new_notices_per_day)
    parser.add_argument("--miss-rate", type=float, default=Workload.miss_rate)
    parser.add_argument("--profiles", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--url", default=None, help="PostgreSQL server URL (scratch databases)")
    parser.add_argument("--out", default="month", help="results/<out>.json and .txt")
    parser.add_argument("--write-results", action="store_true", help="update RESULTS.md")
    parser.add_argument(
        "--resume", action="store_true", help="keep strategies already in results/<out>.json"
    )
    parser.add_argument(
        "--from-json", type=Path, default=None, help="re-render a saved run, run nothing"
    )
    parser.add_argument(
        "--floor-report",
        action="store_true",
        help="render results/month_floor_*.json against the floor (issue 19.3), run nothing",
    )
    args = parser.parse_args(argv)
    if args.floor_report:
        _render_floor(args)
        return 0
    if args.from_json is not None:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        workload = Workload(**saved["workload"])
        results = [
            StrategyResult(**{k: v for k, v in s.items() if k != "row"})
            for s in saved["strategies"]
        ]
        _render(args, workload, results, saved["wall_s"], write_data=False)
        return 0
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("pipelines").setLevel(logging.ERROR)  # per-resource info lines

    workload = Workload(
        seed=args.seed,
        scale=args.scale,
        days=args.days,
        changes_per_day=args.changes_per_day,
        new_notices_per_day=args.new_notices_per_day,
        miss_rate=args.miss_rate,
    )
    server_url = args.url or database_url(default=EMBEDDED)
    started = time.monotonic()
    done = _saved(RESULTS_DIR / f"{args.out}.json", workload) if args.resume else {}
    results: list[StrategyResult] = []
    for name in args.profiles:
        if name in done:
            results.append(done[name])
            continue
        result = run_strategy(PROFILES[name], workload, server_url)
        results.append(result)
        # Saved after every strategy: a crash later keeps what was measured (--resume).
        _save(RESULTS_DIR / f"{args.out}.json", workload, results, time.monotonic() - started)
        print(f"{name}: {result.calls} calls in {workload.days} d -> {result.calls_per_month}"
              f"/month, {result.wall_s} s wall", flush=True)  # fmt: skip
    wall = round(time.monotonic() - started, 1)
    results.sort(key=lambda r: list(PROFILES).index(r.profile))
    _render(args, workload, results, wall, write_data=True)
    return 0


def _render(
    args: argparse.Namespace,
    workload: Workload,
    results: list[StrategyResult],
    wall: float,
    *,
    write_data: bool,
) -> None:
    lines = [
        workload_line(workload, results[0]),
        f"{workload.days} simulated days x {workload.changes_per_day} changes/day"
        f" ({workload.new_notices_per_day} of them new notices),"
        f" {workload.miss_rate:.0%} of notifications lost; "
        + (
            "calls counted over the whole month."
            if workload.days == 30
            else f"calls scaled x30/{workload.days}."
        ),
        "",
        table(results),
        "",
        phases(results),
        "",
        *verdicts(results),
        "",
        f"Wall time {sum(r.wall_s for r in results):.0f} s summed over the strategies on"
        f" {platform.machine()}"
        f" (Python {platform.python_version()}), 2 cores shared with other work.",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{args.out}.txt").write_text(text + "\n", encoding="utf-8")
    if write_data:
        _save(RESULTS_DIR / f"{args.out}.json", workload, results, wall)
    if args.write_results:
        write_section(HEADING, text + "\n\n" + METHOD + "\n" + PROPOSALS, HERE / "RESULTS.md")


def _render_floor(args: argparse.Namespace) -> None:
    """Calls against the floor: table, chart, and the RESULTS.md section."""
    rows = floor_report.load_rows(RESULTS_DIR)
    if not rows:
        raise SystemExit(f"no {RESULTS_DIR}/month_floor_*.json to render")
    chart = RESULTS_DIR / "month_floor.png"
    floor_report.chart(rows, chart)
    text = "\n".join(
        [
            floor_report.table(rows),
            "",
            floor_report.verdict(rows),
            "",
            f"![calls per month against the floor](results/{chart.name})",
        ]
    )
    print(text)
    (RESULTS_DIR / "month_floor.txt").write_text(text + "\n", encoding="utf-8")
    if args.write_results:
        write_section(floor_report.HEADING, FLOOR_NOTES + "\n" + text, HERE / "RESULTS.md")


def _save(path: Path, workload: Workload, results: list[StrategyResult], wall: float) -> None:
    path.parent.mkdir(exist_ok=True)
    payload = {
        "workload": asdict(workload),
        "wall_s": round(wall, 1),
        "strategies": [{**asdict(r), "row": row(r)} for r in results],
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def _saved(path: Path, workload: Workload) -> dict[str, StrategyResult]:
    """Strategies already measured with the same workload (for --resume)."""
    if not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("workload") != asdict(workload):
        return {}
    return {
        s["profile"]: StrategyResult(**{k: v for k, v in s.items() if k != "row"})
        for s in saved["strategies"]
    }


if __name__ == "__main__":
    sys.exit(main())
