"""Write `catalogue_overrides.yaml`: the contradicted assumptions, with evidence and date.

The catalogue applies the entries that carry a `key` when it loads
(`tampuuri.catalogue_overrides`); the others tell the operator what to do. Entries of
assumptions this run did not settle (left out, could not tell) are kept from the last run:
only a new measurement replaces an old one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from pipelines.doctor.findings import ASSUMPTIONS, Finding
from pipelines.tampuuri.catalogue_overrides import read_overrides

HEADER = """\
# Written by `tampuuri-sync doctor`: the [ASSUMED] facts of routes.yaml that the live API
# contradicted, with the evidence. Entries with a `key` correct routes.yaml when the
# catalogue loads (`value: null` removes the key); entries without one need you (`action`).
# Delete this file to return to routes.yaml as written; run the doctor again to re-measure.
"""


def overrides_document(
    findings: Sequence[Finding],
    previous: Sequence[dict[str, Any]],
    *,
    account: str,
    now: datetime,
) -> dict[str, Any]:
    """The file's content: this run's contradictions plus the unsettled old entries. Pure."""
    settled = {f.topic for f in findings if f.verdict != "could not tell"}
    kept = [
        e for e in previous if (str(e.get("assumption")), str(e.get("resource", ""))) not in settled
    ]
    fresh = [_entry(f, account, now) for f in findings if f.verdict == "contradicted"]
    return {"account": account, "checked_at": now.isoformat(), "contradicted": kept + fresh}


def write_overrides(
    path: Path, findings: Sequence[Finding], *, account: str, now: datetime
) -> dict[str, Any]:
    """Merge this run's findings into the file at `path` (written atomically); returns it."""
    document = overrides_document(findings, read_overrides(path), account=account, now=now)
    text = HEADER + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return document


def _entry(finding: Finding, account: str, now: datetime) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "assumption": finding.assumption,
        "resource": finding.resource,
        "assumed": ASSUMPTIONS[finding.assumption],
        "evidence": finding.evidence,
        "account": account,
        "observed_at": now.isoformat(),
    }
    if finding.key is not None:
        entry["key"] = finding.key
        entry["value"] = finding.value
    if finding.action:
        entry["action"] = finding.action
    return entry
