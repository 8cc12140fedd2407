"""The issue's goals, checked against the measured numbers (sentences for the report)."""

from __future__ import annotations

from month.runner import StrategyResult
from pipelines.budget.packages import load_packages

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def verdicts(results: list[StrategyResult]) -> list[str]:
    """One line per goal whose strategies were run."""
    by_name = {r.profile: r for r in results}
    lines: list[str] = []
    naive = by_name.get("naive")
    standard = load_packages()["standard"].included_calls
    for name in ("default", "default-daily"):
        result = by_name.get(name)
        if result is None:
            continue
        covered = result.freshness["webhook_covered"]
        everything = result.freshness["all"]
        p95, top = covered["p95_s"] or 0.0, covered["max_s"] or 0.0
        lines.append(
            f"- {name}, webhook-covered changes within a minute: {_met(top <= MINUTE)}"
            f" (p95 {p95:.0f} s, max {top:.0f} s)."
        )
        worst = everything["max_s"] or 0.0
        lines.append(
            f"- {name}, everything within a day: {_met(worst <= DAY)}"
            f" (max {worst / 3600:.1f} h{' or more' if everything['max_is_lower_bound'] else ''})."
        )
        if naive is not None:
            ratio = result.calls_per_month / max(1, naive.calls_per_month)
            lines.append(
                f"- {name}, at most a fifth of naive's calls: {_met(ratio <= 0.2)}"
                f" ({result.calls_per_month:,} vs {naive.calls_per_month:,}/month = {ratio:.2f})."
            )
    for result in results:
        if result.profile in ("naive", "incremental"):
            continue
        lines.append(_decomposition(result, naive))
    for name in ("frugal", "frugal-monthly"):
        frugal = by_name.get(name)
        if frugal is None:
            continue
        top = frugal.freshness["webhook_covered"]["max_s"] or 0.0
        lines.append(
            f"- {name} fits Standard ({standard:,} calls/month):"
            f" {_met(frugal.calls_per_month <= standard)} ({frugal.calls_per_month:,}/month)."
        )
        lines.append(
            f"- {name}, webhook-covered changes within an hour: {_met(top <= HOUR)}"
            f" (max {top / 60:.0f} min)."
        )
    return lines


def _decomposition(result: StrategyResult, naive: StrategyResult | None) -> str:
    """Where a webhook strategy's month goes, and what that means for the goals."""
    scale = 30 / result.days
    webhooks = round(result.calls_by_phase.get("webhooks", 0) * scale)
    reconcile = round(result.calls_by_phase.get("reconcile", 0) * scale)
    per_change = result.calls_by_phase.get("webhooks", 0) / max(1, result.changes)
    runs = result.reconcile_runs[: result.days]  # the last one is the uncounted settle night
    drifted = sum(1 for r in runs if r.get("drifted"))
    reread = sum(1 for r in runs if r.get("reread"))
    line = (
        f"- {result.profile}: webhook refreshes {webhooks:,}/month"
        f" ({per_change:.2f} calls per change, {result.webhook_batches} batches in"
        f" {result.days} d), reconciliation {reconcile:,}/month (a list drifted on"
        f" {drifted} of {len(runs)} nights; a list was re-read in full on {reread})"
    )
    if naive is not None:
        line += f"; a fifth of naive is {naive.calls_per_month / 5:,.0f}/month"
    return line + "."
