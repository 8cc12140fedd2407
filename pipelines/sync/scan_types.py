"""What a scope scan is and what a batch of them did (`scope_scan.run_scope_batch`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipelines.tampuuri.catalogue import Route
from pipelines.warehouse.loader import LoadCounts, Scope

ItemFilter = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True)
class NestedRows:
    """Rows of another table carried inside each item (a link's nested party)."""

    table: str
    field: str
    # Whether a complete scan of the parent speaks for the nested table's deletions.
    find_deletions: bool = True


@dataclass(frozen=True)
class ScopeScan:
    """What to scan and which warehouse rows the scan speaks for."""

    resource: str  # the catalogue resource and warehouse table
    route: Route
    path_params: Mapping[str, object] = field(default_factory=dict)
    filters: Mapping[str, object] = field(default_factory=dict)
    scope: Scope = field(default_factory=lambda: Scope(None))
    state_resource: str = ""
    state_scope: str = ""
    # False for change-since scans: rows missing from them are not deletions.
    finds_deletions: bool = True
    keep: ItemFilter | None = None
    nested: tuple[NestedRows, ...] = ()
    changed_field: str | None = None
    # For a table with a `from: fan_out` column: the id the fan-out list was called for,
    # stored beside each row (staging's fan_out_id); None for any other scan.
    fan_out_id: int | None = None
    # False for targeted scans (webhook refreshes, reconciliation checks): they load rows
    # but must not move the nightly cursors, totals or last-full-scan times. A webhook
    # refresh's complete listing of a cost centre is that cost centre's nightly scan and
    # records it (`webhooks/refresh_strategies._one_scope`).
    record_state: bool = True


@dataclass
class ScopeOutcome:
    """What a committed batch of scope scans did (one scan, or many of one fan-out)."""

    counts: LoadCounts = field(default_factory=LoadCounts)
    tables: dict[str, LoadCounts] = field(default_factory=dict)  # the counts per table
    pages: int = 0
    complete: bool = False  # every scan of the batch was complete
    forbidden: bool = False  # every scan of the batch answered 403
    scopes: int = 0
    scopes_forbidden: int = 0
    scopes_incomplete: int = 0
    skipped: list[dict[str, object]] = field(default_factory=list)
    new_fields: set[str] = field(default_factory=set)


@dataclass
class ScanResult:
    scan: ScopeScan
    complete: bool = False
    forbidden: bool = False
    total: int | None = None
    newest: datetime | None = None
