"""The doctor's plan and findings as rich tables."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.table import Table

from pipelines.doctor.findings import ASSUMPTIONS
from pipelines.doctor.plan import DoctorPlan
from pipelines.doctor.run import DoctorRun

_VERDICT_STYLE = {"confirmed": "green", "contradicted": "red", "could not tell": "yellow"}


def plan_table(plan: DoctorPlan, account: str) -> Table:
    """Each probe with the calls it will spend, the total, and what is left out."""
    table = Table(title=f"{account}: the calls `tampuuri-sync doctor` will spend")
    for column in ("assumption", "resource", "route", "calls"):
        table.add_column(column, justify="right" if column == "calls" else "left")
    for probe in plan.probes:
        table.add_row(probe.assumption, probe.resource, probe.route, str(plan.costs[probe]))
    for probe in plan.left_out:
        left = (probe.assumption, probe.resource, probe.route, "0 (over the cap)")
        table.add_row(*left, style="dim")
    for f in plan.unprobeable:
        table.add_row(f.assumption, f.resource, "(no call can check it)", "0", style="dim")
    table.add_row("total", "", "", str(plan.calls), style="bold")
    table.caption = (
        f"at most {plan.max_calls} calls (--max-calls); every call is billed and recorded in"
        " ops.api_calls with trigger doctor"
    )
    return table


def findings_table(run: DoctorRun) -> Table:
    """Confirmed / contradicted / could not tell, with the evidence and what follows."""
    table = Table(title=f"{run.account}: the route catalogue's [ASSUMED] facts", show_lines=True)
    for column in ("assumption", "resource", "verdict", "calls", "evidence", "what follows"):
        table.add_column(column, justify="right" if column == "calls" else "left")
    for f in run.findings:
        style = _VERDICT_STYLE[f.verdict]
        follows = f.action or ""
        if f.key is not None:
            value = "removed" if f.value is None else f"= {f.value}"
            follows = f"catalogue: {f.key} {value}\n{follows}".strip()
        table.add_row(
            f"{f.assumption}\n[dim]{ASSUMPTIONS[f.assumption]}[/dim]",
            f.resource,
            f"[{style}]{f.verdict}[/{style}]",
            str(f.calls),
            f.evidence,
            follows,
        )
    counts = {v: sum(1 for f in run.findings if f.verdict == v) for v in _VERDICT_STYLE}
    summary = ", ".join(f"{n} {v}" for v, n in counts.items())
    table.caption = f"{summary}; {run.calls} call(s) spent (plan {run.plan.calls})"
    if run.overrides_file is not None:
        table.caption += f"\noverrides written to {run.overrides_file}"
    return table


def run_dict(run: DoctorRun) -> dict[str, Any]:
    """The plan and findings as JSON-ready data (`doctor --json`)."""
    plan = run.plan
    return {
        "account": run.account,
        "plan": {
            "calls": plan.calls,
            "max_calls": plan.max_calls,
            "probes": [
                {
                    "assumption": p.assumption,
                    "resource": p.resource,
                    "route": p.route,
                    "calls": plan.costs[p],
                }
                for p in plan.probes
            ],
            "left_out": [
                {"assumption": p.assumption, "resource": p.resource} for p in plan.left_out
            ],
        },
        "spent": run.spent,
        "calls": run.calls,
        "refused": run.refused,
        "findings": [asdict(f) for f in run.findings],
        "overrides_file": str(run.overrides_file) if run.overrides_file else None,
    }
