"""The call plan's records: scans, resources and the whole sync, with their arithmetic.

`plan.compute_plan` builds them; the guard trims them; the CLI prints them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from pipelines.tampuuri.paging import PAGING_RULE, expected_calls

Basis = Literal["last_totals", "probe", "unknown"]
Mode = Literal["incremental", "full"]
# probe_totals keys: (asset resource, scope) with scope '' for account-wide scans and the
# cost-centre id as a string for fan-out scans. For an incremental change-since scan the
# value is the number of changed rows; otherwise the list's Total.
ProbeTotals = Mapping[tuple[str, str], int]


def calls_for(total: int | None, page_size: int = 250) -> int:
    """Calls one complete scan of `total` rows takes (`paging.expected_calls`), at least 1."""
    return expected_calls(total or 0, page_size)


@dataclass(frozen=True)
class ScopePlan:
    """One scan: an account-wide list ('') or one cost centre of a fan-out."""

    scope: str
    calls: int
    total: int | None
    basis: Basis
    last_full_scan_at: datetime | None = None
    expected_deletions: int = 0


@dataclass(frozen=True)
class ResourcePlan:
    """The calls one resource's sync will spend."""

    resource: str
    calls: int
    scopes: tuple[ScopePlan, ...]
    basis: Basis
    notes: tuple[str, ...] = ()
    mode: Mode = "full"
    fan_out: bool = False
    deletion_calls: int = 0

    def keeping(self, scopes: Iterable[str], note: str) -> ResourcePlan:
        """This plan narrowed to some of its scopes (a budget-shaped fan-out)."""
        kept = set(scopes)
        chosen = tuple(s for s in self.scopes if s.scope in kept)
        return resource_plan(
            self.resource,
            chosen,
            notes=(*self.notes, note),
            mode=self.mode,
            fan_out=self.fan_out,
            deletion_calls=self._deletion_calls_for(chosen),
        )

    def _deletion_calls_for(self, chosen: Sequence[ScopePlan]) -> int:
        expected = sum(s.expected_deletions for s in self.scopes)
        if not expected:
            return 0
        kept = sum(s.expected_deletions for s in chosen)
        return math.ceil(self.deletion_calls * kept / expected)


@dataclass(frozen=True)
class SyncPlan:
    """The call plan of one account's sync.

    Attributes:
        calls: list-scan calls the run will make (the plan's core number).
        expected_deletion_calls: confirmation calls expected (0 without probing).
        probe_calls: calls the `Limit=1` probes behind this plan cost (already spent).
        incremental: for a full plan, the same resources synced incrementally (what a
            guard can trim a full run to, and a day's expected incremental spend).
    """

    account: str
    full: bool
    resources: tuple[ResourcePlan, ...]
    probe_calls: int = 0
    incremental: SyncPlan | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def calls(self) -> int:
        return sum(r.calls for r in self.resources)

    @property
    def expected_deletion_calls(self) -> int:
        return sum(r.deletion_calls for r in self.resources)

    @property
    def expected_calls(self) -> int:
        """Scan calls plus expected deletion confirmations: what a guard budgets for."""
        return self.calls + self.expected_deletion_calls

    @property
    def daily_incremental_calls(self) -> int:
        """What one incremental run of these resources is expected to spend."""
        return (self.incremental or self).expected_calls

    def resource(self, name: str) -> ResourcePlan | None:
        return next((r for r in self.resources if r.resource == name), None)

    def with_resource(self, replacement: ResourcePlan) -> SyncPlan:
        return replace(
            self,
            resources=tuple(
                replacement if r.resource == replacement.resource else r for r in self.resources
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (datetimes as ISO 8601)."""
        return {
            "account": self.account,
            "full": self.full,
            "calls": self.calls,
            "expected_deletion_calls": self.expected_deletion_calls,
            "expected_calls": self.expected_calls,
            "probe_calls": self.probe_calls,
            "paging_rule": PAGING_RULE,
            "notes": list(self.notes),
            "resources": [
                {
                    **{k: v for k, v in asdict(r).items() if k != "scopes"},
                    "notes": list(r.notes),
                    "scopes": [
                        {
                            **asdict(s),
                            "last_full_scan_at": s.last_full_scan_at.isoformat()
                            if s.last_full_scan_at
                            else None,
                        }
                        for s in r.scopes
                    ],
                }
                for r in self.resources
            ],
            "incremental_calls": None if self.incremental is None else self.incremental.calls,
        }


def _combined_basis(scopes: Sequence[ScopePlan]) -> Basis:
    bases = {s.basis for s in scopes}
    if not scopes or "unknown" in bases:
        return "unknown"
    return "probe" if "probe" in bases else "last_totals"


def resource_plan(
    resource: str,
    scopes: tuple[ScopePlan, ...],
    *,
    notes: tuple[str, ...],
    mode: Mode,
    fan_out: bool,
    deletion_calls: int,
) -> ResourcePlan:
    return ResourcePlan(
        resource=resource,
        calls=sum(s.calls for s in scopes),
        scopes=scopes,
        basis=_combined_basis(scopes),
        notes=notes,
        mode=mode,
        fan_out=fan_out,
        deletion_calls=deletion_calls,
    )
