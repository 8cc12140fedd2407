"""How a webhook refresh reads the ids of a fan-out resource (objects, listed per cost
centre, with no change-since filter): per parent, one complete listing of it when that
costs no more calls than a detail call per id, else the detail calls.

A listing's calls are its pages by the paging rule (`tampuuri.paging.expected_calls`: 1
up to 250 rows) from the parent's last `Total` in `ops.sync_state` (the active rows the
warehouse holds under it before its first scan). A listing is complete like a nightly
scan of the parent: it confirms its deletions and stamps its `last_full_scan_at`, so the
nightly sweep counts it toward its share (`budget.shaping.choose_scopes`); so at equal
calls the listing is taken. The same plan is the refresh's budget estimate
(`refresh.planned_calls`) and what the refresh then does (`refresh_strategies.scope_scan`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipelines.declarations import Declared
from pipelines.tampuuri.catalogue import ResourceRoutes
from pipelines.tampuuri.paging import expected_calls
from pipelines.warehouse import state
from pipelines.webhooks.refresh_outcome import RefreshHints
from pipelines.webhooks.refresh_plan import grouping_column
from pipelines.webhooks.refresh_store import RefreshStore

LISTED_ACTION = "refresh"  # deletions are confirmed row by row (`refresh_plan.method_for`)


@dataclass(frozen=True)
class ScopePlan:
    """One fan-out target's reads: parents listed whole, and ids read one by one."""

    listings: Mapping[int, Sequence[int]]  # parent -> the ids its listing serves
    singles: Sequence[int]  # ids read by their detail route
    pages: Mapping[int, int]  # parent -> the calls its listing takes

    @property
    def calls(self) -> int:
        return sum(self.pages[p] for p in self.listings) + len(self.singles)


def plan_scopes(groups: Mapping[int | None, Sequence[int]], pages: Mapping[int, int]) -> ScopePlan:
    """Each parent of `pages` whose listing takes no more calls than its ids is listed;
    the other ids (and those of no known parent) take detail calls."""
    listings: dict[int, list[int]] = {}
    singles: list[int] = []
    for parent, members in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        if parent is not None and parent in pages and pages[parent] <= len(members):
            listings[parent] = sorted(members)
        else:
            singles.extend(members)
    return ScopePlan(listings, sorted(singles), {p: pages[p] for p in listings})


def grouped(
    store: RefreshStore, hints: RefreshHints, resource: str, column: str, ids: Sequence[int]
) -> dict[int | None, list[int]]:
    """Ids grouped by `column`: the event's hint, else the stored row's (blocking)."""
    hinted = hints.cost_centres.get(resource, {})
    stored = store.column_of(resource, column, list(ids))
    groups: dict[int | None, list[int]] = {}
    for row_id in ids:
        groups.setdefault(hinted.get(row_id, stored.get(row_id)), []).append(row_id)
    return groups


def listing_pages(
    store: RefreshStore, resource: str, column: str, parents: Sequence[int], page_size: int
) -> dict[int, int]:
    """The calls one complete listing of each parent takes (blocking)."""
    with store.engine.connect() as conn:
        states = state.scope_states(conn, store.account, resource)
    pages: dict[int, int] = {}
    for parent in parents:
        known = states.get(str(parent))
        total = known.last_total if known is not None else None
        if total is None:
            total = len(store.active_where(resource, column, parent))
        pages[parent] = expected_calls(total, page_size)
    return pages


def scope_plan(
    store: RefreshStore,
    hints: RefreshHints,
    declared: Declared,
    routes: ResourceRoutes,
    action: str,
    ids: Sequence[int],
    page_size: int,
) -> ScopePlan:
    """The plan of one (fan-out resource, action) target (blocking: warehouse reads)."""
    column = grouping_column(declared)
    groups = grouped(store, hints, routes.name, column, ids)
    parents = [p for p in groups if p is not None]
    listable = action == LISTED_ACTION and routes.list is not None and bool(parents)
    pages = listing_pages(store, routes.name, column, parents, page_size) if listable else {}
    return plan_scopes(groups, pages)
