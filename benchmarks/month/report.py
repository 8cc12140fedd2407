"""The month benchmark's table, JSON and the RESULTS.md section (formatting only)."""

from __future__ import annotations

from typing import Any

from month.runner import StrategyResult, Workload
from pipelines.budget.packages import load_packages

HEADING = "## A month of calls: strategies and packages"
PACKAGES = ("standard", "normal", "business")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def row(result: StrategyResult) -> dict[str, Any]:
    """One table row: calls per month, € per package, freshness."""
    packages = load_packages()
    month = result.calls_per_month
    covered = result.freshness["webhook_covered"]
    everything = result.freshness["all"]
    return {
        "strategy": result.profile,
        "calls_counted": result.calls,
        "calls_per_month": month,
        "eur": {name: str(packages[name].cost(month)) for name in PACKAGES},
        "covered_p50_s": covered["p50_s"],
        "covered_p95_s": covered["p95_s"],
        "covered_max_s": covered["max_s"],
        "all_max_s": everything["max_s"],
        "all_max_is_lower_bound": everything["max_is_lower_bound"],
        "unsettled": everything["unsettled"],
    }


def table(results: list[StrategyResult]) -> str:
    """A Markdown table of the strategies."""
    lines = [
        "| strategy | calls/month | € Standard | € Normal | € Business | webhook-covered p50"
        " | p95 | max staleness, all changes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        r = row(result)
        bound = "≥ " if r["all_max_is_lower_bound"] else ""
        lines.append(
            f"| {r['strategy']} | {r['calls_per_month']:,} | {r['eur']['standard']}"
            f" | {r['eur']['normal']} | {r['eur']['business']}"
            f" | {_duration(r['covered_p50_s'])} | {_duration(r['covered_p95_s'])}"
            f" | {bound}{_duration(r['all_max_s'])} |"
        )
    return "\n".join(lines)


def phases(results: list[StrategyResult]) -> str:
    """Where each strategy's calls went (counted days, not extrapolated)."""
    lines = ["| strategy | calls in the simulated days, by phase |", "|---|---|"]
    for result in results:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(result.calls_by_phase.items()) if v)
        lines.append(f"| {result.profile} | {result.calls} = {parts} |")
    return "\n".join(lines)


def workload_line(workload: Workload, result: StrategyResult) -> str:
    p = result.portfolio
    return (
        f"Portfolio (simulator seed {workload.seed}, scale {workload.scale:,}):"
        f" {p.get('kustannuspaikat', 0):,} cost centres, {p.get('huoneistot', 0):,} apartments"
        f" ({p.get('kohteet', 0):,} objects), {p.get('osapuolet', 0):,} parties,"
        f" {p.get('osapuoli_yhteydet', 0):,} links, {p.get('ilmoitukset', 0):,} notices."
    )
