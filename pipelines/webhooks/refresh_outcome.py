"""What a targeted refresh did: per (resource, action) target, and per account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.warehouse.loader import LoadCounts


@dataclass
class TargetOutcome:
    """How one (resource, action) target went.

    Attributes:
        done: ids refreshed (upserted, confirmed deleted, or unchanged).
        failed: ids whose refresh failed (the events get retried).
        skipped: ids the API user may not read (403): kept as they are, reported.
        unconfirmed: ids a listing did not return and no route can confirm (cost centres):
            left as they are; the reconciliation sweep settles them.
        strategy: what was done, e.g. "change_since", "detail", "scope_listing", "batch",
            "tail".
        fallback: why a cheaper strategy was given up for this one (e.g. a read of a
            list's end that could not prove it saw every new row).
    """

    resource: str
    action: str
    strategy: str = ""
    fallback: str = ""
    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)
    counts: LoadCounts = field(default_factory=LoadCounts)
    calls: int = 0
    error: str | None = None


@dataclass
class RefreshOutcome:
    """What one account's targeted refresh did."""

    account: str
    targets: list[TargetOutcome] = field(default_factory=list)

    @property
    def counts(self) -> LoadCounts:
        total = LoadCounts()
        for target in self.targets:
            total = total + target.counts
        return total

    @property
    def calls(self) -> int:
        return sum(t.calls for t in self.targets)

    @property
    def ok(self) -> bool:
        return not any(t.failed for t in self.targets)

    def failed_ids(self, resource: str) -> set[int]:
        """Ids of `resource` whose refresh failed (any action)."""
        return {i for t in self.targets if t.resource == resource for i in t.failed}

    def target(self, resource: str, action: str) -> TargetOutcome:
        for outcome in self.targets:
            if (outcome.resource, outcome.action) == (resource, action):
                return outcome
        raise KeyError((resource, action))


@dataclass(frozen=True)
class RefreshHints:
    """What the events themselves say beyond the ids.

    Attributes:
        since: per resource, the oldest event `Timestamp` (change-since scans start there,
            minus the overlap). Missing: no change-since scan for that resource.
        cost_centres: per resource, row id -> cost centre from ReferenceSecondaryId.
    """

    since: Mapping[str, datetime] = field(default_factory=dict)
    cost_centres: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
