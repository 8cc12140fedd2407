"""Run every `benchmarks/bench_*.py` in turn with quick settings; report how each ended.

Quick settings are small sizes that finish in minutes (the recorded figures in RESULTS.md
come from each script's own defaults: pass `--full` for those). A script not listed in
QUICK runs with its own defaults. Each script writes its own results files, so a quick
run overwrites the recorded figures of the scripts it runs: use `--only` to pick.

Usage:
    .venv/bin/python benchmarks/run_all.py [--full] [--only sync loader] [--timeout 1800]
        [--dry-run]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# Short runs per script (keyed by the name after "bench_"); unknown scripts get no args.
QUICK: dict[str, list[str]] = {
    "ab": ["--quick"],
    "sync": ["--scales", "10000"],
    "latency": ["--quick"],
    "loader": ["--sizes", "100000"],
    "simulator": ["--scale", "100000", "--max-rows", "50000"],
    "receiver": ["--seconds", "5"],
    "faults": ["--scale", "5000", "--runs", "1", "--kills", "2"],
    "month": ["--days", "2"],
}


def scripts(only: list[str] | None) -> list[Path]:
    """The bench_*.py files that exist, sorted, optionally narrowed to `only` names."""
    found = sorted(BENCH_DIR.glob("bench_*.py"))
    if only:
        found = [p for p in found if p.stem.removeprefix("bench_") in only]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="each script's own defaults")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. sync loader")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per script")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args()
    outcomes: list[tuple[str, str, float]] = []
    for script in scripts(args.only):
        name = script.stem.removeprefix("bench_")
        extra = [] if args.full else QUICK.get(name, [])
        command = [sys.executable, str(script.relative_to(ROOT)), *extra]
        print("$", " ".join(command), flush=True)
        if args.dry_run:
            continue
        started = time.perf_counter()
        try:
            code = subprocess.run(command, cwd=ROOT, timeout=args.timeout).returncode
            status = "ok" if code == 0 else f"exit {code}"
        except subprocess.TimeoutExpired:
            status = f"timeout after {args.timeout:.0f} s"
        outcomes.append((name, status, time.perf_counter() - started))
    for name, status, seconds in outcomes:
        print(f"{name:<12} {status:<24} {seconds:8.1f} s")
    return 0 if all(status == "ok" for _, status, _ in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
