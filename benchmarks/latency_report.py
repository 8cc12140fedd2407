"""The latency benchmark's figures: the bound, the verdicts and the markdown tables.

Used by bench_latency.py (which runs the syncs); `bench_latency.py --render-only` prints
these tables from results/latency.json and rewrites the RESULTS.md section.
"""

from __future__ import annotations

from typing import Any

from results_md import write_section

SECTION = "## Sync under latency vs dlt"
INTRO = """`benchmarks/bench_latency.py`: full syncs of one account into a fresh database, the
simulator (its own process) answering every API call after `latency_ms`. Seconds: the run
itself, inside the syncing process (imports excluded); at 10k the median of 3 runs, the
tools taking turns, else one run. Calls: the simulator's counter. Peak RSS: the syncing
process. dlt: `rest_api` with its defaults (pages one after another); dlt parallel: the
same with `parallelized` on the source and the dependent resource (dlt's thread pool).
Bound: latency x the product's calls / calls in flight (the client's cap, the larger of
page_concurrency and scope_concurrency). Goal (issue 17): product >= 5x faster than dlt's
fastest option, and <= 1.15x the bound at 50 and 100 ms."""
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


def render(results: dict[str, Any]) -> str:
    """Markdown: per label, its conditions, the summary, the per-tool table and the sweep."""
    out: list[str] = []
    for label, entry in results["labels"].items():
        out += [f"### {label}", ""]
        out.append(
            f"Tree {entry.get('tree', '?')}, {entry.get('date', '?')}, {entry.get('machine', '?')};"
            f" 1-minute load average around the reported runs {_load_range(entry)}."
        )
        out += [f"- {note}" for note in entry.get("notes", [])]
        if entry.get("matrix"):
            out += ["", *_matrix_tables(entry["matrix"])]
        for sweep in entry.get("sweeps", {}).values():
            out += ["", *_sweep_table(sweep, entry.get("matrix", {}))]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_results_md(results: dict[str, Any]) -> None:
    """Replace only this benchmark's section of RESULTS.md."""
    write_section(SECTION, f"{INTRO}\n\n{render(results)}")
