"""Probes of the single-row routes: 404 after a delete, and the batch route's id limit."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipelines.doctor.findings import Finding
from pipelines.doctor.plan import Probe
from pipelines.doctor.reads import Reader, failure
from pipelines.tampuuri.errors import TampuuriError, TampuuriNotFound, TampuuriRequestError

_NUMBER = re.compile(r"\d+")


async def deleted_404(reader: Reader, probe: Probe) -> Finding:
    """The detail route of a row the warehouse holds as deleted answers 404."""
    row = probe.deleted
    assert row is not None
    routes = reader.catalogue.resources[row.resource]
    assert routes.detail is not None
    (name,) = routes.detail.parameters
    asked = f"GET {routes.detail.format(**{name: row.id})}"
    known = f"{row.resource} {row.id}, deleted in the warehouse on {row.deleted_at:%Y-%m-%d}"
    try:
        answer = await reader.call(routes.detail, path_params={name: row.id})
    except TampuuriNotFound:
        return Finding("deleted_404", row.resource, "confirmed", f"{asked} ({known}): 404")
    except TampuuriError as exc:
        return Finding(
            "deleted_404", row.resource, "could not tell", f"{asked} ({known}): {failure(exc)}"
        )
    users = [r.name for r in reader.catalogue.resources.values() if r.detail == routes.detail]
    shown = sorted(answer)[:4] if isinstance(answer, dict) else type(answer).__name__
    return Finding(
        "deleted_404", row.resource, "contradicted",
        f"{asked} ({known}) answered 200 with {shown}",
        action=(
            f"the product confirms deletions of {', '.join(users)} with this route (404 = gone),"
            " so deleted rows would stay active: remove `detail` from"
            f" {', '.join('resources.' + u for u in users)} in config/routes.yaml (deletions are"
            " then confirmed by a second complete scan), or find how the API marks a deleted row"
        ),
    )  # fmt: skip


def padded_ids(known: Sequence[int], count: int) -> list[int]:
    """`count` ids: the known ones first, then ids above them (absent ids are just not found)."""
    ids = list(dict.fromkeys(known))[:count]
    start = max(ids, default=0) + 1
    return ids + list(range(start, start + count - len(ids)))


async def batch_max_ids(reader: Reader, probe: Probe, *, known_ids: Sequence[int]) -> Finding:
    """`max_ids` ids in one call pass; `max_ids + 1` are refused."""
    routes = reader.catalogue.resources[probe.resource]
    batch = routes.batch
    assert batch is not None and batch.ids_field is not None
    most = batch.max_ids or 250
    ids = padded_ids(known_ids, most + 1)
    try:
        found = await reader.call(batch, json={batch.ids_field: ids[:most]})
    except TampuuriRequestError as exc:
        message = exc.api_message or "(no message)"
        seen = f"{probe.route} with {most} ids answered {exc.status}: {message}"
        limit = min((int(n) for n in _NUMBER.findall(message) if 0 < int(n) < most), default=None)
        if limit is None:
            return Finding(
                "batch_max_ids", probe.resource, "contradicted", seen,
                action=(
                    f"lower resources.{probe.resource}.batch.max_ids in config/routes.yaml until"
                    " a call passes: the answer does not name the limit"
                ),
            )  # fmt: skip
        return Finding(
            "batch_max_ids", probe.resource, "contradicted", seen,
            key=f"resources.{probe.resource}.batch.max_ids", value=limit,
            action=f"batches of {limit} ids: deletion checks and refreshes take more calls",
        )  # fmt: skip
    except TampuuriError as exc:
        return _unknown(probe, f"{probe.route} with {most} ids failed: {failure(exc)}")
    rows = len(found) if isinstance(found, list) else 0
    first = f"{probe.route} with {most} ids: 200 ({rows} rows)"
    try:
        await reader.call(batch, json={batch.ids_field: ids})
    except TampuuriRequestError as exc:
        message = exc.api_message or "(no message)"
        evidence = f"{first}; with {most + 1} ids: {exc.status} {message}"
        return Finding("batch_max_ids", probe.resource, "confirmed", evidence)
    except TampuuriError as exc:
        return _unknown(probe, f"{first}; with {most + 1} ids: {failure(exc)}")
    return Finding(
        "batch_max_ids", probe.resource, "contradicted",
        f"{first}; with {most + 1} ids: 200 too",
        action=f"no change: {most} ids a call is within what the route takes",
    )  # fmt: skip


def _unknown(probe: Probe, evidence: str) -> Finding:
    return Finding(probe.assumption, probe.resource, "could not tell", evidence)
