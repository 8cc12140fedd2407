"""The latency benchmark's figures: the bound, the verdicts and the markdown tables.

Used by bench_latency.py (which runs the syncs); `bench_latency.py --render-only` prints
these tables from results/latency.json and rewrites the RESULTS.md section.
"""

from __future__ import annotations

from typing import Any

import cpu_report
from results_md import write_section

SECTION = "## Sync under latency vs dlt"
INTRO = """`benchmarks/bench_latency.py`: full syncs of one account into a fresh database, the
simulator (its own process) answering every API call after `latency_ms`. Seconds: the run
itself, inside the syncing process (imports excluded): the median of the runs listed
under "runs s", the tools taking turns. Calls: the simulator's counter. Peak RSS: the syncing
process. dlt: `rest_api` with its defaults (pages one after another); dlt parallel: the
same with `parallelized` on the source and the dependent resource (dlt's thread pool).
Bound: latency x the product's calls / calls in flight (the client's cap, the larger of
page_concurrency and scope_concurrency). Goal (issue 17): product >= 5x faster than dlt's
fastest option, and <= 1.15x the bound at 50 and 100 ms. CPU: the seconds the product's
event loop, its whole process, the PostgreSQL server and the simulator spent during each
median run; on one machine they share the cores, so no schedule of that work ends before
the CPU floor, max(loop, their sum / cores) (`cpu_report.py`)."""
DLT_TOOLS = ("dlt", "dlt-parallel")
TOOL_ORDER = ("product", *DLT_TOOLS)


def ok(run: dict[str, Any] | None) -> bool:
    return bool(run) and run["status"] == "ok" and run["rows"] > 0


def bound(run: dict[str, Any], latency_ms: float) -> dict[str, Any]:
    """The latency-only floor for the product's run: latency x calls / calls in flight."""
    detail = run.get("detail") or {}
    page = detail.get("page_concurrency")
    if not page or not latency_ms:
        return {}
    in_flight = max(page, detail.get("scope_concurrency") or 1)
    seconds = latency_ms / 1000 * run["calls"] / in_flight
    return {
        "seconds": round(seconds, 2),
        "in_flight": in_flight,
        "page_concurrency": page,
        "x_bound": round(run["seconds"] / seconds, 2),
    }


def judge(cell: dict[str, Any], latency_ms: float) -> dict[str, Any]:
    """Speed-ups over dlt (its default and its fastest option) and the product vs the bound."""
    product = cell.get("product")
    if not ok(product):
        return {}
    verdict: dict[str, Any] = {"bound": bound(product, latency_ms)}
    dlts = {tool: cell[tool] for tool in DLT_TOOLS if ok(cell.get(tool))}
    if "dlt" in dlts:
        verdict["x_dlt_default"] = round(dlts["dlt"]["seconds"] / product["seconds"], 2)
    if dlts:
        fastest = min(dlts, key=lambda tool: dlts[tool]["seconds"])
        verdict["fastest_dlt"] = fastest
        verdict["x_dlt_fastest"] = round(dlts[fastest]["seconds"] / product["seconds"], 2)
    return verdict


def verdict_line(scale: int, latency_ms: float, verdict: dict[str, Any]) -> str:
    if not verdict:
        return f"{scale:,} @ {latency_ms} ms: product failed"
    parts = [f"{scale:,} @ {latency_ms} ms:"]
    if "x_dlt_fastest" in verdict:
        parts.append(f"{verdict['x_dlt_fastest']}x dlt's fastest ({verdict['fastest_dlt']})")
    if "x_dlt_default" in verdict:
        parts.append(f"{verdict['x_dlt_default']}x dlt default")
    b = verdict.get("bound") or {}
    if b:
        parts.append(f"{b['x_bound']}x the bound of {b['seconds']} s")
    return " ".join(parts)


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "" if value is None else format(value, fmt)


def _matrix_tables(matrix: dict[str, Any]) -> list[str]:
    summary = [
        "| rows | latency | product s | dlt s | dlt parallel s | x dlt default"
        " | x dlt fastest (>= 5) | bound s | product / bound (<= 1.15) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    detail = [
        "| rows | latency | tool | calls | seconds | rows/s | peak RSS MB | runs s | status |",
        "|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for scale in sorted(matrix, key=int):
        for latency in sorted(matrix[scale], key=float):
            cell = matrix[scale][latency]
            verdict, seconds = cell.get("verdict") or {}, {}
            for tool in TOOL_ORDER:
                run = cell.get(tool)
                if not run:
                    continue
                seconds[tool] = run["seconds"] if ok(run) else None
                runs = ", ".join(f"{s:.2f}" for s in run.get("runs_seconds", []))
                detail.append(
                    f"| {int(scale):,} | {latency} ms | {tool} | {run['calls']:,}"
                    f" | {run['seconds']:.2f} | {run['rows_per_s']:,} | {run['peak_rss_mb']:.0f}"
                    f" | {runs} | {run['status']} |"
                )
            b = verdict.get("bound") or {}
            summary.append(
                f"| {int(scale):,} | {latency} ms | {_num(seconds.get('product'))}"
                f" | {_num(seconds.get('dlt'))} | {_num(seconds.get('dlt-parallel'))}"
                f" | {_num(verdict.get('x_dlt_default'))} | {_num(verdict.get('x_dlt_fastest'))}"
                f" | {_num(b.get('seconds'))} | {_num(b.get('x_bound'))} |"
            )
    return [*summary, "", *detail]


def _fastest_dlt(matrix: dict[str, Any], scale: int, latency_ms: float) -> tuple[str, float]:
    """dlt's fastest option and its seconds in the matrix cell of the sweep (or none)."""
    cell = matrix.get(str(scale), {}).get(str(latency_ms), {})
    dlts = {tool: cell[tool]["seconds"] for tool in DLT_TOOLS if ok(cell.get(tool))}
    if not dlts:
        return "", 0.0
    fastest = min(dlts, key=lambda tool: dlts[tool])
    return fastest, dlts[fastest]


def _sweep_table(sweep: dict[str, Any], matrix: dict[str, Any]) -> list[str]:
    fastest, dlt_seconds = _fastest_dlt(matrix, sweep["scale"], sweep["latency_ms"])
    against = f"; x dlt fastest: against {fastest}'s {dlt_seconds:.2f} s" if fastest else ""
    given = sweep.get("scope_concurrency")
    scope = f", scope_concurrency {given} instead of config/sync.yaml's" if given else ""
    lines = [
        f"Page-concurrency sweep, product only, {sweep['scale']:,} rows at"
        f" {sweep['latency_ms']} ms (default page_concurrency {sweep['default']}{scope}{against}):",
        "",
        "| page_concurrency | calls in flight | calls | seconds | runs s | bound s"
        " | / bound (<= 1.15) | x dlt fastest (>= 5) | peak RSS MB |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for value in sorted(sweep["points"], key=int):
        run = sweep["points"][value]
        b = run.get("bound") or {}
        runs = ", ".join(f"{s:.2f}" for s in run.get("runs_seconds", []))
        speedup = dlt_seconds / run["seconds"] if fastest and ok(run) else None
        lines.append(
            f"| {value} | {b.get('in_flight', '')} | {run['calls']:,} | {run['seconds']:.2f}"
            f" | {runs} | {_num(b.get('seconds'))} | {_num(b.get('x_bound'))}"
            f" | {_num(speedup)} | {run['peak_rss_mb']:.0f} |"
        )
    return lines


def _load_range(entry: dict[str, Any]) -> str:
    """The 1-minute load averages seen around the reported runs, lowest to highest."""
    cells = [
        cell for by_latency in entry.get("matrix", {}).values() for cell in by_latency.values()
    ]
    loads = [
        value
        for cell in cells
        for tool in TOOL_ORDER
        if cell.get(tool)
        for value in cell[tool].get("load_avg", [])
    ]
    for sweep in entry.get("sweeps", {}).values():
        loads += [value for run in sweep["points"].values() for value in run.get("load_avg", [])]
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"


def _met(value: float | None, goal: float, *, at_least: bool) -> str:
    if value is None:
        return ""
    met = value >= goal if at_least else value <= goal
    return f"{value:.2f} {'yes' if met else 'no'}"


def _comparison(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The product's cells of both labels side by side, with the goals met or not."""
    lines = [
        "The product's cells of both labels (concurrency: before"
        f" {_concurrency(before)}, after {_concurrency(after)}; x dlt fastest: against the"
        " dlt runs of the same label, interleaved with the product's):",
        "",
        "| rows | latency | before s | after s | after / before | before x dlt fastest"
        " | after x dlt fastest (>= 5) | after bound s | after / bound (<= 1.15) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    old, new = before.get("matrix", {}), after.get("matrix", {})
    for scale in sorted(set(old) & set(new), key=int):
        for latency in sorted(set(old[scale]) & set(new[scale]), key=float):
            was, now = old[scale][latency], new[scale][latency]
            if not (ok(was.get("product")) and ok(now.get("product"))):
                continue
            seconds = (was["product"]["seconds"], now["product"]["seconds"])
            verdict = now.get("verdict") or {}
            b = verdict.get("bound") or {}
            lines.append(
                f"| {int(scale):,} | {latency} ms | {seconds[0]:.2f} | {seconds[1]:.2f}"
                f" | {seconds[1] / seconds[0]:.2f}"
                f" | {_num((was.get('verdict') or {}).get('x_dlt_fastest'))}"
                f" | {_met(verdict.get('x_dlt_fastest'), 5, at_least=True)}"
                f" | {_num(b.get('seconds'))}"
                f" | {_met(b.get('x_bound'), 1.15, at_least=False)} |"
            )
    lines += ["", *_sweep_comparison(before, after)]
    return lines


def _scope_of(sweep: dict[str, Any]) -> Any:
    """The scope_concurrency a sweep's runs had (given, else the product's own)."""
    runs = list(sweep["points"].values())
    return sweep.get("scope_concurrency") or (runs[0].get("detail") or {}).get(
        "scope_concurrency", "?"
    )


def _concurrency(entry: dict[str, Any]) -> str:
    """The page/scope concurrency the label's product runs had, e.g. "page 16 / scope 4"."""
    for by_latency in entry.get("matrix", {}).values():
        for cell in by_latency.values():
            detail = (cell.get("product") or {}).get("detail") or {}
            if detail.get("page_concurrency"):
                return f"page {detail['page_concurrency']} / scope {detail['scope_concurrency']}"
    return "?"


def _sweep_comparison(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Seconds per page_concurrency: the after label's default sweeps beside every sweep
    of the before label at the same rows and latency (each with its scope_concurrency)."""
    out: list[str] = []
    for new in after.get("sweeps", {}).values():
        if new.get("scope_concurrency"):
            continue
        olds = [
            old
            for old in before.get("sweeps", {}).values()
            if (old["scale"], old["latency_ms"]) == (new["scale"], new["latency_ms"])
        ]
        if not olds:
            continue
        sweeps = [*(("before", old) for old in olds), ("after", new)]
        heads = [f"{label} (scope {_scope_of(sweep)})" for label, sweep in sweeps]
        out += [
            f"Page-concurrency sweep, {new['scale']:,} rows at {new['latency_ms']} ms, seconds"
            f" and / bound (default page_concurrency: before {olds[0]['default']}, after"
            f" {new['default']}; scope: the run's scope_concurrency):",
            "",
            "| page_concurrency | " + " | ".join(f"{h} s | / bound" for h in heads) + " |",
            "|---:|" + "---:|---:|" * len(sweeps),
        ]
        values = {value for _, sweep in sweeps for value in sweep["points"]}
        for value in sorted(values, key=int):
            cells = []
            for _, sweep in sweeps:
                run = sweep["points"].get(value)
                b = (run or {}).get("bound") or {}
                cells += [_num(run["seconds"]) if run else "", _num(b.get("x_bound"))]
            out.append(f"| {value} | {' | '.join(cells)} |")
        out.append("")
    return out


def render(results: dict[str, Any]) -> str:
    """Markdown: before and after side by side (when both are there), then per label its
    conditions, the summary, the per-tool table and the sweeps."""
    out: list[str] = []
    labels = results["labels"]
    if "before" in labels and "after" in labels:
        out += ["### before and after", "", *_comparison(labels["before"], labels["after"])]
    for label, entry in results["labels"].items():
        out += [f"### {label}", ""]
        out.append(
            f"Tree {entry.get('tree', '?')}, {entry.get('date', '?')}, {entry.get('machine', '?')};"
            f" 1-minute load average around the reported runs {_load_range(entry)}."
        )
        out += [f"- {note}" for note in entry.get("notes", [])]
        if entry.get("matrix"):
            out += ["", *_matrix_tables(entry["matrix"])]
            cpu = cpu_report.cpu_table(entry["matrix"], cpu_report.cores_of(entry))
            out += ["", *cpu] if cpu else []
        for sweep in entry.get("sweeps", {}).values():
            out += ["", *_sweep_table(sweep, entry.get("matrix", {}))]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_results_md(results: dict[str, Any]) -> None:
    """Replace only this benchmark's section of RESULTS.md."""
    write_section(SECTION, f"{INTRO}\n\n{render(results)}")
