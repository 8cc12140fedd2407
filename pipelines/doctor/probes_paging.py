"""Probes of the paging assumptions: ascending ids, the Limit clamp, a stable Total."""

from __future__ import annotations

from itertools import pairwise

from pipelines.doctor.findings import Finding
from pipelines.doctor.plan import Probe
from pipelines.doctor.reads import Envelope, NotAnEnvelope, Reader, failure
from pipelines.tampuuri.errors import TampuuriError, TampuuriRequestError
from pipelines.tampuuri.paging import expected_calls

ORDER_FALLBACK = (
    "every paged scan checks each page's ids and, where they do not ascend, falls back to"
    " the Total rule (a whole new pass whenever Total moves): no change needed"
)


async def ascending_ids(reader: Reader, probe: Probe) -> Finding:
    """The first page of the list (or of its first scope) comes in ascending id order."""
    routes = reader.catalogue.resources[probe.resource]
    try:
        if routes.fan_out is None:
            page = await reader.first_page(probe.resource)
        else:
            parent = await reader.first_page(routes.fan_out)
            scope = next((i for i in parent.values("Id") if isinstance(i, int)), None)
            if scope is None:
                return _unknown(
                    probe, f"{routes.fan_out} has no row to scan {probe.resource} under"
                )
            assert routes.list is not None
            (name,) = routes.list.parameters
            page = await reader.page(routes, path_params={name: scope})
    except (TampuuriError, NotAnEnvelope) as exc:
        return _unknown(probe, f"the page could not be read: {failure(exc)}")
    ids = page.values(routes.id_field)
    if len(ids) < 2 or not all(isinstance(i, int) for i in ids):
        return _unknown(probe, f"the first page holds {len(ids)} row(s) with integer ids")
    where = f"{probe.route}, first page ({len(ids)} of {page.total} rows)"
    for position in range(1, len(ids)):
        if ids[position] <= ids[position - 1]:
            evidence = (
                f"{where}: Id {ids[position - 1]} then Id {ids[position]}"
                f" (rows {position} and {position + 1})"
            )
            if routes.ordered_by_id:
                return Finding(
                    "ascending_ids", probe.resource, "contradicted", evidence,
                    key=f"resources.{probe.resource}.ordered_by_id", value=False,
                    action=(
                        f"new {probe.resource} rows are no longer read from the list's end"
                        " (one call) but by scoped scans; " + ORDER_FALLBACK
                    ),
                )  # fmt: skip
            return Finding(
                "ascending_ids", probe.resource, "contradicted", evidence, action=ORDER_FALLBACK
            )
    return Finding(
        "ascending_ids",
        probe.resource,
        "confirmed",
        f"{where}: ids ascend from {ids[0]} to {ids[-1]}",
    )


async def limit_clamp(reader: Reader, probe: Probe, *, page_size: int) -> Finding:
    """A Limit above the page size answers at most `page_size` rows and echoes the clamp."""
    read = reader.read_pages()
    # The list with the most rows shows best whether more than page_size rows come back.
    name = max(read, key=lambda n: read[n].total) if read else probe.pages[0]
    routes = reader.catalogue.resources[name]
    asked = page_size + 1
    route = f"{routes.list.method} {routes.list.template}" if routes.list else name
    try:
        page = await reader.page(routes, limit=asked)
    except TampuuriRequestError as exc:
        message = exc.api_message or "(no message)"
        return Finding(
            "limit_clamp", name, "contradicted",
            f"{route} with Limit={asked} answered {exc.status}: {message}",
            action=f"no change: the product never asks for more than {page_size} rows a page",
        )  # fmt: skip
    except (TampuuriError, NotAnEnvelope) as exc:
        return _unknown(probe, f"{route} with Limit={asked} failed: {failure(exc)}", name)
    seen = (
        f"{route} with Limit={asked} answered Limit {page.limit}, {len(page.items)} rows of"
        f" Total {page.total}"
    )
    if page.limit < page_size or len(page.items) < min(page_size, page.total):
        served = min(page.limit, len(page.items)) if page.items else page.limit
        if served < 1:
            return _unknown(probe, seen, name)
        return Finding(
            "limit_clamp", name, "contradicted", seen, key="max_page_size", value=served,
            action=(
                f"pages of {served} rows: a list of {page.total} rows takes"
                f" {expected_calls(page.total, served)} call(s) instead of"
                f" {expected_calls(page.total, page_size)}; the plan and the budget use the"
                " smaller page"
            ),
        )  # fmt: skip
    if len(page.items) > page_size:
        return Finding(
            "limit_clamp", name, "contradicted", seen,
            action=f"no change: pages stay at {page_size} rows, the documented maximum",
        )  # fmt: skip
    if page.limit == page_size:
        return Finding("limit_clamp", name, "confirmed", seen)
    return _unknown(probe, f"{seen}: too few rows to see a clamp", name)


def _distinct_pairs(totals: list[int]) -> int:
    return sum(1 for a, b in pairwise(totals) if a != b)


async def total_stable(reader: Reader, probe: Probe) -> Finding:
    """The first page's Total and two `Limit=1` calls right after agree."""
    routes = reader.catalogue.resources[probe.resource]
    try:
        first: Envelope = await reader.first_page(probe.resource)
        totals = [first.total]
        for _ in range(2):
            totals.append((await reader.page(routes, limit=1)).total)
    except (TampuuriError, NotAnEnvelope) as exc:
        return _unknown(probe, f"{probe.route} failed: {failure(exc)}")
    seen = f"{probe.route}: Total {', '.join(str(t) for t in totals)} on three calls seconds apart"
    changes = _distinct_pairs(totals)
    if changes == 0:
        return Finding("total_stable", probe.resource, "confirmed", seen)
    if changes == 1:
        return _unknown(
            probe, f"{seen}: one change, which a user's edit between the calls explains; run again"
        )
    return Finding(
        "total_stable", probe.resource, "contradicted", seen,
        action=(
            "the product cannot correct this: scans lay out their pages by Total, so they"
            " may stop on an empty page or end incomplete (ops.sync_runs status incomplete)"
            " and retry the next night; report the behaviour to Visma's Tampuuri support"
        ),
    )  # fmt: skip


def _unknown(probe: Probe, evidence: str, resource: str | None = None) -> Finding:
    return Finding(
        probe.assumption,
        probe.resource if resource is None else resource,
        "could not tell",
        evidence,
    )
