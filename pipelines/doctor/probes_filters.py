"""Probes of the list filters: what the changed-since filter and the scope filters return.

Both compare one filtered call with the unfiltered first page: a returned row the filter
should have left out means the filter is not what the catalogue assumes. (An ignored
filter returns the unfiltered first page again, whose rows fall on both sides of the
chosen value.) Totals are shown, never trusted: `total_stable` checks them on its own.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pipelines.doctor.findings import Finding
from pipelines.doctor.plan import Probe
from pipelines.doctor.reads import NotAnEnvelope, Reader, failure
from pipelines.tampuuri.errors import TampuuriError

_FRACTION = re.compile(r"\.(\d+)")


def instant(value: object) -> int | None:
    """A Tampuuri timestamp as 100 ns ticks since the epoch (7 digits kept); None if not one."""
    if not isinstance(value, str):
        return None
    digits = ""
    match = _FRACTION.search(value)
    if match:
        digits = match[1]
        value = value[: match.start()] + value[match.end() :]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a changed-at time carries its offset
    seconds = int(parsed.astimezone(UTC).timestamp())
    return seconds * 10_000_000 + int((digits + "0000000")[:7])


async def change_since(reader: Reader, probe: Probe, *, overlap_minutes: int) -> Finding:
    """`filter=t` returns the rows changed at or after t, the row changed at t included."""
    routes = reader.catalogue.resources[probe.resource]
    key, field = routes.change_since, routes.changed_field
    assert key is not None and field is not None
    try:
        first = await reader.first_page(probe.resource)
    except (TampuuriError, NotAnEnvelope) as exc:
        return _unknown(probe, f"the first page could not be read: {failure(exc)}")
    stamped = [(instant(i.get(field)), i) for i in first.items]
    times = sorted({t for t, _ in stamped if t is not None})
    if len(times) < 2:
        return _unknown(probe, f"the first page has {len(times)} distinct {field} value(s)")
    # The median change time: rows of the first page fall on both sides of it.
    pivot = times[len(times) // 2]
    pivot_row = next(i for t, i in stamped if t == pivot)
    since = str(pivot_row[field])
    try:
        page = await reader.page(routes, filters={key: since})
    except (TampuuriError, NotAnEnvelope) as exc:
        return _unknown(probe, f"{probe.route} with {key}={since} failed: {failure(exc)}")
    seen = f"{probe.route} with {key}={since}: Total {page.total} of {first.total}"
    early = [i for i in page.items if (instant(i.get(field)) or pivot) < pivot]
    ignored = action_without_filter(probe.resource, key)
    if early:
        row = early[0]
        evidence = (
            f"{seen}; {len(early)} returned row(s) changed before it, e.g. Id"
            f" {row.get(routes.id_field)} at {row.get(field)}"
        )
        return _contradicted(probe, evidence, ignored)
    complete = page.total <= len(page.items)
    returned = {i.get(routes.id_field) for i in page.items}
    if complete and pivot_row.get(routes.id_field) not in returned:
        return Finding(
            "change_since", probe.resource, "contradicted",
            f"{seen}; Id {pivot_row.get(routes.id_field)}, changed exactly at {since}, is not"
            " returned: the filter is Muokattu > t, not >=",
            action=(
                f"no change: each incremental sync re-reads {overlap_minutes} minute(s) before"
                " its cursor, so a row changed at the cursor is still read"
            ),
        )  # fmt: skip
    included = "included" if pivot_row.get(routes.id_field) in returned else "beyond the page"
    return Finding(
        "change_since", probe.resource, "confirmed",
        f"{seen}; every returned row changed at or after it (the row changed at it: {included})",
    )  # fmt: skip


def action_without_filter(resource: str, key: str) -> str:
    return (
        f"{resource} is synced without {key}: each run scans it in full and finds changes"
        " by row hash (more calls, same rows)"
    )


async def scope_filter(reader: Reader, probe: Probe) -> Finding:
    """`scope_filter=v` returns only rows whose field of that name is v."""
    routes = reader.catalogue.resources[probe.resource]
    key = routes.scope_filter
    assert key is not None
    try:
        first = await reader.first_page(probe.resource)
    except (TampuuriError, NotAnEnvelope) as exc:
        return _unknown(probe, f"the first page could not be read: {failure(exc)}")
    values = [v for v in first.values(key) if isinstance(v, int) and not isinstance(v, bool)]
    if not values:
        return _unknown(probe, f"no row of the first page carries an integer {key}")
    value = max(set(values), key=values.count)  # the scope most rows of the page share
    if all(v == value for v in first.values(key)):
        # An ignored filter would return this very page: nothing to tell them apart.
        return _unknown(probe, f"every row of the first page has {key} {value}")
    try:
        page = await reader.page(routes, filters={key: value})
    except (TampuuriError, NotAnEnvelope) as exc:
        return _unknown(probe, f"{probe.route} with {key}={value} failed: {failure(exc)}")
    seen = f"{probe.route} with {key}={value}: Total {page.total} of {first.total}"
    foreign = [i for i in page.items if i.get(key) != value]
    action = (
        f"the product cannot do without this filter: it reads {probe.resource} of one scope"
        " with it (webhook refreshes, deletion checks, scoped accounts) and would get the whole"
        f" list: check the filter's name against the Help page of {probe.route} and correct"
        f" resources.{probe.resource}.scope_filter in config/routes.yaml"
    )
    if foreign:
        row = foreign[0]
        evidence = (
            f"{seen}; {len(foreign)} returned row(s) of other scopes, e.g. Id"
            f" {row.get(routes.id_field)} with {key} {row.get(key)}"
        )
        return Finding("scope_filter", probe.resource, "contradicted", evidence, action=action)
    return Finding(
        "scope_filter", probe.resource, "confirmed", f"{seen}; every returned row has {key} {value}"
    )


def _contradicted(probe: Probe, evidence: str, action: str) -> Finding:
    return Finding(
        probe.assumption, probe.resource, "contradicted", evidence,
        key=f"resources.{probe.resource}.change_since", value=None, action=action,
    )  # fmt: skip


def _unknown(probe: Probe, evidence: str) -> Finding:
    return Finding(probe.assumption, probe.resource, "could not tell", evidence)
