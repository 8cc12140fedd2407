"""The override file keeps what this run did not settle and replaces what it re-measured.

Protects: a capped or partly failing run does not erase a correction measured earlier,
and a correction the API no longer contradicts is dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.doctor.findings import Finding
from pipelines.doctor.override_file import overrides_document

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
OLD = [
    {"assumption": "limit_clamp", "resource": "", "key": "max_page_size", "value": 100},
    {"assumption": "total_stable", "resource": "kustannuspaikat", "action": "report it"},
    {"assumption": "batch_max_ids", "resource": "osapuolet", "key": "x", "value": 50},
]


def test_unsettled_entries_stay_and_remeasured_ones_are_replaced():
    findings = [
        Finding("limit_clamp", "", "could not tell", "left out: over --max-calls 5"),
        Finding("total_stable", "kustannuspaikat", "confirmed", "Total 6, 6, 6"),
        Finding(
            "batch_max_ids", "osapuolet", "contradicted", "250 ids answered 400",
            key="resources.osapuolet.batch.max_ids", value=100, action="batches of 100",
        ),
    ]  # fmt: skip
    document = overrides_document(findings, OLD, account="demo-a", now=NOW)
    entries = document["contradicted"]
    assert [(e["assumption"], e.get("value")) for e in entries] == [
        ("limit_clamp", 100),
        ("batch_max_ids", 100),
    ]
    fresh = entries[1]
    assert fresh["evidence"] == "250 ids answered 400" and fresh["observed_at"] == NOW.isoformat()
    assert fresh["account"] == "demo-a" and "batch route" in fresh["assumed"]
