"""The CPU side of the latency benchmark: what the product's runs cost the machine.

Each product run records the CPU seconds spent during its sync (`product_child.CpuMeter`):
its event loop's thread, its whole process, the PostgreSQL server, the simulator. On one
machine those processes share the cores, so no schedule of the same work can finish in
less than the *CPU floor*: the larger of the loop's CPU (one thread) and all their CPU
together divided by the cores. Where the floor is above a goal's time, the goal cannot be
met on that machine by scheduling; only less CPU work (or more cores) can.
"""

from __future__ import annotations

import re
from typing import Any

PARTS = ("loop", "product", "postgres", "simulator")


def cores_of(entry: dict[str, Any]) -> int | None:
    """The cores the label's figures were measured on (recorded, else from its machine)."""
    if entry.get("cores"):
        return int(entry["cores"])
    found = re.match(r"(\d+) cores", entry.get("machine", ""))
    return int(found.group(1)) if found else None


def cpu_floor(cpu: dict[str, float | None], cores: int) -> float | None:
    """max(loop CPU, (product + PostgreSQL + simulator CPU) / cores); None if unmeasured."""
    parts = [cpu.get(name) for name in ("product", "postgres", "simulator")]
    if any(value is None for value in parts) or cpu.get("loop") is None:
        return None
    return max(float(cpu["loop"] or 0), sum(float(v or 0) for v in parts) / cores)


def goal_seconds(cell: dict[str, Any], latency_ms: float) -> float | None:
    """The longest run that meets every goal of the cell: dlt's fastest / 5, and at a
    latency above 0, 1.15 x the bound."""
    verdict = cell.get("verdict") or {}
    product = cell.get("product") or {}
    limits = []
    if verdict.get("x_dlt_fastest"):
        limits.append(product["seconds"] * verdict["x_dlt_fastest"] / 5)
    bound = verdict.get("bound") or {}
    if latency_ms and bound.get("seconds"):
        limits.append(1.15 * bound["seconds"])
    return min(limits) if limits else None


def cpu_table(matrix: dict[str, Any], cores: int | None) -> list[str]:
    """Per product cell with CPU figures: the parts, the floor and the goal's time."""
    rows = []
    for scale in sorted(matrix, key=int):
        for latency in sorted(matrix[scale], key=float):
            cell = matrix[scale][latency]
            run = cell.get("product") or {}
            cpu = (run.get("detail") or {}).get("cpu_s")
            if not cpu or not cores:
                continue
            floor = cpu_floor(cpu, cores)
            goal = goal_seconds(cell, float(latency))
            reachable = "" if floor is None or goal is None else ("yes" if floor <= goal else "no")
            figures = " | ".join(_s(cpu.get(name)) for name in PARTS)
            rows.append(
                f"| {int(scale):,} | {latency} ms | {run['seconds']:.2f} | {figures}"
                f" | {_s(floor)} | {_s(goal)} | {reachable} |"
            )
    if not rows:
        return []
    return [
        f"CPU seconds during the product's median runs ({cores} cores; floor = max(loop,"
        " (product + PostgreSQL + simulator) / cores); goal s: the longest run meeting"
        " every goal of the cell, dlt's fastest / 5 and 1.15 x the bound):",
        "",
        "| rows | latency | product s | loop CPU s | product CPU s | PostgreSQL CPU s"
        " | simulator CPU s | CPU floor s | goal s | floor <= goal |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
    ]


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
