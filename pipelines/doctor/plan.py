"""Which probes the doctor runs and what each costs, decided before any call. Pure.

Probes share the first page (Offset 0, Limit 250) of each account-wide list: the order
check reads it, and the change-since, scope and Total checks compare against it. A shared
page is counted once, for the first probe that needs it. Probes are taken in order while
the total stays within the cap; the rest are left out and reported as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.doctor.findings import Finding
from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes

DEFAULT_MAX_CALLS = 30
TOTAL_CALLS = 2  # Limit=1 calls compared with the first page's Total
BATCH_CALLS = 2  # max_ids ids, then max_ids + 1


@dataclass(frozen=True)
class DeletedRow:
    """A row the warehouse holds as deleted: its detail route should answer 404."""

    resource: str
    id: int
    deleted_at: datetime


@dataclass(frozen=True)
class Probe:
    """One check: which assumption, on what, with which calls."""

    assumption: str
    resource: str
    route: str  # "METHOD template" of the calls it makes beyond shared pages
    own_calls: int
    pages: tuple[str, ...] = ()  # account-wide lists whose first page it reads
    deleted: DeletedRow | None = None


@dataclass(frozen=True)
class DoctorPlan:
    """The probes that fit the cap, those left out, and checks no call can make."""

    probes: tuple[Probe, ...]
    left_out: tuple[Probe, ...]
    unprobeable: tuple[Finding, ...]
    max_calls: int
    costs: Mapping[Probe, int] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        """Calls the probes will spend (retries of a failed call come on top, up to the cap)."""
        return sum(self.costs.values())


def list_route(routes: ResourceRoutes) -> str:
    assert routes.list is not None
    return f"{routes.list.method} {routes.list.template}"


def candidates(
    catalogue: Catalogue,
    deleted: Mapping[str, DeletedRow],
) -> tuple[list[Probe], list[Finding]]:
    """Every probe the catalogue calls for, in the order they run, and the checks that
    cannot be made from here (reported as could not tell, 0 calls)."""
    resources = catalogue.resources.values()
    wide = [r for r in resources if r.list is not None and r.fan_out is None]
    probes: list[Probe] = []
    unprobeable: list[Finding] = []
    for r in wide:
        probes.append(Probe("ascending_ids", r.name, list_route(r), 0, (r.name,)))
    for r in resources:
        if r.list is not None and r.fan_out is not None:
            # One page of the first scope the parent's first page names.
            probes.append(Probe("ascending_ids", r.name, list_route(r), 1, (r.fan_out,)))
    if wide:
        first = wide[0]
        # At run time: the list whose first page showed the most rows (best shows a clamp).
        route = f"the longest list read, Limit={catalogue.max_page_size + 1}"
        probes.append(Probe("limit_clamp", "", route, 1, (first.name,)))
    for r in wide:
        if r.change_since and r.changed_field:
            probes.append(Probe("change_since", r.name, list_route(r), 1, (r.name,)))
    if wide:
        first = wide[0]
        probes.append(
            Probe("total_stable", first.name, list_route(first), TOTAL_CALLS, (first.name,))
        )
    for template, users in _detail_routes(resources).items():
        row = deleted.get(template)
        label = f"GET {template}"
        if row is None:
            unprobeable.append(
                Finding(
                    "deleted_404",
                    ", ".join(users),
                    "could not tell",
                    f"no row of {', '.join(users)} is known deleted: the warehouse holds no"
                    " soft-deleted row to ask about (the API has no delete for an integration"
                    " user); run the doctor again after a sync has confirmed a deletion",
                )
            )
        else:
            probes.append(Probe("deleted_404", row.resource, label, 1, deleted=row))
    for r in resources:
        if r.batch is not None:
            route = f"{r.batch.method} {r.batch.template}"
            probes.append(Probe("batch_max_ids", r.name, route, BATCH_CALLS))
    for r in wide:
        if r.scope_filter:
            probes.append(Probe("scope_filter", r.name, list_route(r), 1, (r.name,)))
    return probes, unprobeable


def build_plan(
    catalogue: Catalogue,
    *,
    deleted: Mapping[str, DeletedRow] | None = None,
    max_calls: int = DEFAULT_MAX_CALLS,
) -> DoctorPlan:
    """The probes that fit within `max_calls`, in order, each with its cost."""
    if max_calls < 0:
        raise ValueError("max_calls must be 0 or more")
    probes, unprobeable = candidates(catalogue, deleted or {})
    return choose(probes, unprobeable, max_calls)


def choose(probes: Sequence[Probe], unprobeable: Sequence[Finding], max_calls: int) -> DoctorPlan:
    chosen: list[Probe] = []
    left_out: list[Probe] = []
    costs: dict[Probe, int] = {}
    pages: set[str] = set()
    spent = 0
    for probe in probes:
        new_pages = [p for p in dict.fromkeys(probe.pages) if p not in pages]
        cost = probe.own_calls + len(new_pages)
        if spent + cost > max_calls:
            left_out.append(probe)
            continue
        chosen.append(probe)
        costs[probe] = cost
        pages.update(new_pages)
        spent += cost
    return DoctorPlan(tuple(chosen), tuple(left_out), tuple(unprobeable), max_calls, costs)


def _detail_routes(resources: Iterable[ResourceRoutes]) -> dict[str, list[str]]:
    """Detail route template -> the resources that use it (a cost centre is an object)."""
    users: dict[str, list[str]] = {}
    for r in resources:
        if r.detail is not None:
            users.setdefault(r.detail.template, []).append(r.name)
    return users
