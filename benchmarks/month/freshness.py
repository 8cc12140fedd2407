"""Freshness: when did the warehouse first match the simulator after each change?

After every step that writes the warehouse (a webhook batch, a nightly job) the
outstanding changes are checked: a change is fresh at the first check where the
warehouse row equals the simulator's current row (or both say the row is gone). A check
runs right after the step, and nothing writes the warehouse between steps, so the
simulated time of the check is exact.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from pipelines.simulator.store import AccountStore

TABLES = ("kustannuspaikat", "kohteet", "osapuolet", "osapuoli_yhteydet", "ilmoitukset")
# Identifiers from this code constant only; values are bound.
_ROWS = {
    table: text(
        f"SELECT id, data, deleted_at IS NOT NULL FROM tampuuri.{table}"
        " WHERE account = :account AND id = ANY(:ids)"
    )
    for table in TABLES
}


@dataclass
class Change:
    """One change to the simulator and when the warehouse caught up with it."""

    resource: str
    op: str
    id: int
    at: datetime
    covered: bool  # a webhook notification for it reached the inbox
    fresh_at: datetime | None = None

    @property
    def staleness_s(self) -> float | None:
        return None if self.fresh_at is None else (self.fresh_at - self.at).total_seconds()


class FreshnessTracker:
    """Holds the changes of one strategy and settles them as the warehouse catches up."""

    def __init__(self, engine: Engine, store: AccountStore, account: str) -> None:
        self.engine = engine
        self.store = store
        self.account = account
        self.changes: list[Change] = []
        self._open: list[Change] = []

    def add(self, change: Change) -> None:
        self.changes.append(change)
        self._open.append(change)

    @property
    def open_changes(self) -> int:
        """Changes the warehouse does not reflect yet."""
        return len(self._open)

    def check(self, now: datetime) -> None:
        """Mark every outstanding change the warehouse now reflects as fresh at `now`."""
        if not self._open:
            return
        by_table: dict[str, set[int]] = defaultdict(set)
        for change in self._open:
            by_table[change.resource].add(change.id)
        stored: dict[tuple[str, int], tuple[Any, bool]] = {}
        with self.engine.connect() as conn:
            for table, ids in by_table.items():
                rows = conn.execute(_ROWS[table], {"account": self.account, "ids": sorted(ids)})
                for row_id, data, deleted in rows:
                    stored[(table, row_id)] = (data, deleted)
        still_open = []
        for change in self._open:
            if self._matches(change, stored.get((change.resource, change.id))):
                change.fresh_at = now
            else:
                still_open.append(change)
        self._open = still_open

    def _matches(self, change: Change, stored: tuple[Any, bool] | None) -> bool:
        expected = self.store.get(change.resource, change.id)
        present = stored is not None and not stored[1]
        if expected is None:
            return not present
        if present and stored is not None and stored[0] == expected:
            return True
        # A party no link names is not part of what a complete sync holds: absent is right.
        return (
            change.resource == "osapuolet"
            and not present
            and not self.store.links_by_party.get(change.id)
        )


def summarize(changes: list[Change], end: datetime) -> dict[str, Any]:
    """p50/p95/max staleness of webhook-covered changes and the max of all changes.

    Changes still stale at `end` count as (end - at), a lower bound, and are reported.
    """

    def stats(selected: list[Change]) -> dict[str, Any]:
        done = sorted(c.staleness_s for c in selected if c.staleness_s is not None)
        open_ = [c for c in selected if c.fresh_at is None]
        bound = max(((end - c.at).total_seconds() for c in open_), default=0.0)
        return {
            "changes": len(selected),
            "settled": len(done),
            "unsettled": len(open_),
            "p50_s": statistics.median(done) if done else None,
            "p95_s": _percentile(done, 0.95),
            "max_s": max([*done, bound]) if selected else None,
            "max_is_lower_bound": bool(open_) and bound >= max(done, default=0.0),
        }

    covered = [c for c in changes if c.covered]
    return {
        "webhook_covered": stats(covered),
        "all": stats(changes),
        "not_covered": stats([c for c in changes if not c.covered]),
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]
