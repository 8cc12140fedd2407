"""The floor (issue 19.3): the fewest calls any strategy could make and meet a profile's targets.

A profile has two targets: every webhook-covered change in the warehouse within its
freshness target `F`, and every resource reconciled within its cadence `C` (a change whose
bundle was lost, 2 % of them, found by the next re-read). The floor is the sum of two
parts, each computed from the simulated month's event trace and the contract
(config/routes.yaml, tampuuri-api.md sections 2, 4, 7):

Webhooks. A call serves only the route it is made to, so the events are split by the
call that can refresh them, a *route class*:

- notices (`ilmoitukset`): one change-since list call returns every notice changed since
  a time (one page up to 250 rows), so any set of notice events costs 1 call;
- cost centres: the same (change-since list of `kustannuspaikat/selaa`);
- parties: the batch route `osapuolitiedot/osapuolet/hae`, ceil(ids / 250) calls;
- new links: one read of the ordered link list's end (`ordered_by_id`), 1 call;
- objects, per cost centre: no batch route, so a detail call per object or one listing
  of the cost centre (its pages): min(distinct objects, pages of the cost centre).

Within a class, a call at time t serves the events that arrived in [t - F, t]. The
fewest calls covering every event is the greedy schedule: a call at the first
unserved event's arrival + F, serving everything that arrived until then (optimal for
covering points by windows of one length; every window here costs 1 call, or
min(objects, pages) with pages = 1 for every simulated cost centre, so fewest windows
is fewest calls).

Reconciliation. A strategy cannot know which bundles were lost, so every row that can
change must be read at least once per cadence, each by the cheapest route that returns
it (pages by the paging rule, `tampuuri.paging.expected_calls`: 1 call up to 250 rows,
else 1 + ceil((T - 250) / 249)):

- objects: every cost centre's listing, its pages (no change-since filter);
- links and the parties nested in them: the whole link list (no change-since filter;
  deleted links fire no webhook, and parties no link names are not held);
- notices and cost centres: one change-since list call each (new and changed rows come
  back, one page), and one `Limit=1` call for the list's `Total`: their deletions fire no
  webhook (config/events.yaml has no such event) and a change-since filter cannot return
  a deleted row, so the count is the cheapest evidence of one (none happens in the
  simulated month, but no strategy can know that without asking).

Over D simulated days that is D / C re-reads (steady state, amortised: the month starts
with the reads spread over the cadence, as the product's sweep keeps them). The 2 % of
lost bundles need nothing more: each lost change is in a row the periodic re-read reads.

Simplifications (each stated where the numbers are reported):

- The two parts are added. A strategy could let one call serve both, e.g. a webhook's
  listing of a cost centre counting as that cost centre's re-read, or a notice refresh
  reading change-since from the last reconciliation. `shareable` counts the
  reconciliation reads such sharing could save at most (per cadence period aligned to
  the month start: the class had a webhook call in it).
- Page counts are the portfolio's at the start of the month (a few rows move per month).
- A new party that no link names need not be held, so its event could cost nothing; the
  floor charges it a batch call, as the event mapping asks.
- Processing takes no simulated time, so a call at arrival + F meets the target F.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipelines.simulator.store import AccountStore
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.tampuuri.paging import expected_calls
from pipelines.webhooks.events import EventMapping

BATCH_IDS = 250
CHANGE_SINCE_LISTS = ("kustannuspaikat", "ilmoitukset")


@dataclass(frozen=True)
class Delivery:
    """One notification that reached the inbox, at its simulated arrival."""

    at: datetime
    action: str
    reference_id: int
    secondary_id: int | None

    @classmethod
    def of(cls, at: datetime, notification: dict[str, Any]) -> Delivery:
        secondary = notification.get("ReferenceSecondaryId")
        return cls(
            at,
            str(notification["Action"]),
            int(notification["ReferenceId"]),
            int(secondary) if secondary is not None else None,
        )

    def row(self, start: datetime) -> list[Any]:
        """[seconds after `start`, Action, ReferenceId, ReferenceSecondaryId] (saved runs)."""
        return [(self.at - start).total_seconds(), self.action, self.reference_id,
                self.secondary_id]  # fmt: skip

    @classmethod
    def from_row(cls, start: datetime, row: list[Any]) -> Delivery:
        seconds, action, reference_id, secondary_id = row
        return cls(start + timedelta(seconds=seconds), action, reference_id, secondary_id)


def portfolio_pages(store: AccountStore, catalogue: Catalogue) -> dict[str, Any]:
    """Pages of one full read of each list the floor re-reads (the contract's paging rule)."""
    size = catalogue.max_page_size
    objects = {int(cc): len(ids) for cc, ids in store.objects_by_cc.items()}
    links = len(store.tables["osapuoli_yhteydet"].ids)
    return {
        "page_size": size,
        "cost_centre_pages": {cc: expected_calls(n, size) for cc, n in sorted(objects.items())},
        "links": links,
        "link_pages": expected_calls(links, size),
    }


def month_floor(
    trace: list[Delivery],
    mapping: EventMapping,
    portfolio: dict[str, Any],
    *,
    start: datetime,
    target_s: float | None,
    cadence_days: int | None,
    days: int,
) -> dict[str, Any]:
    """The floor of one simulated run (module docstring); {} for a profile without targets."""
    if target_s is None or cadence_days is None:
        return {}
    # Keys are cost-centre ids (strings once the portfolio went through JSON).
    pages = {int(cc): n for cc, n in portfolio["cost_centre_pages"].items()}
    windows = _windows(trace, mapping, timedelta(seconds=target_s))
    webhooks: dict[str, int] = defaultdict(int)
    for (route, scope), served in windows.items():
        for _, ids in served:
            if route == "kohteet":
                webhooks[route] += min(len(ids), pages.get(scope or 0, 1))
            else:
                webhooks[route.removesuffix("-unscoped")] += math.ceil(len(ids) / BATCH_IDS)
    periods = days / cadence_days
    reconcile = {
        "kohteet": sum(pages.values()) * periods,
        "osapuoli_yhteydet": portfolio["link_pages"] * periods,
        # A change-since read and a Total probe each (module docstring).
        **dict.fromkeys(CHANGE_SINCE_LISTS, 2 * periods),
    }
    webhook_total = sum(webhooks.values())
    reconcile_total = sum(reconcile.values())
    return {
        "target_s": target_s,
        "cadence_days": cadence_days,
        "days": days,
        "webhook_windows": sum(len(w) for w in windows.values()),
        "webhooks": dict(sorted(webhooks.items())),
        "webhook_calls": webhook_total,
        "reconcile": {k: round(v, 1) for k, v in reconcile.items()},
        "reconcile_calls": round(reconcile_total, 1),
        "calls": round(webhook_total + reconcile_total, 1),
        "shareable": _shareable(windows, pages, start=start, cadence_days=cadence_days, days=days),
    }


def _windows(
    trace: list[Delivery], mapping: EventMapping, target: timedelta
) -> dict[tuple[str, int | None], list[tuple[datetime, set[int]]]]:
    """Per route class, the greedy schedule: each call's time and the ids it serves."""
    events: dict[tuple[str, int | None], list[tuple[datetime, int]]] = defaultdict(list)
    for delivery in trace:
        rule = mapping.rule(delivery.action)
        if rule is None or rule.ignored or rule.resource is None:
            continue
        if rule.resource == "kohteet":
            # Grouped by cost centre (the event's secondary id); without it, on its own.
            key = ("kohteet", delivery.secondary_id)
            if delivery.secondary_id is None:
                key = ("kohteet-unscoped", delivery.reference_id)
        else:
            key = (rule.resource, None)
        events[key].append((delivery.at, delivery.reference_id))
    schedule: dict[tuple[str, int | None], list[tuple[datetime, set[int]]]] = {}
    for key, arrivals in events.items():
        served: list[tuple[datetime, set[int]]] = []
        for at, ref in sorted(arrivals):
            if not served or at > served[-1][0]:
                served.append((at + target, set()))  # a call at the first unserved arrival + F
            served[-1][1].add(ref)
        schedule[key] = served
    return schedule


def _shareable(
    windows: dict[tuple[str, int | None], list[tuple[datetime, set[int]]]],
    pages: dict[int, int],
    *,
    start: datetime,
    cadence_days: int,
    days: int,
) -> float:
    """Reconciliation reads a webhook call of the same class could stand in for, at most.

    Per whole cadence period from `start`: a notice or cost-centre list, or a cost
    centre's objects, whose class had a webhook call in that period (scaled to the days).
    """
    whole = days // cadence_days
    if whole < 1:
        return 0.0
    period = timedelta(days=cadence_days)
    saved = 0
    for (route, scope), served in windows.items():
        if route not in ("kohteet", *CHANGE_SINCE_LISTS):
            continue
        touched = {int((at - start) / period) for at, _ in served}
        hits = sum(1 for p in touched if p < whole)
        # A webhook's change-since read may stand in for the list's; its Total probe stays.
        saved += hits * (pages.get(scope or 0, 1) if route == "kohteet" else 1)
    return round(saved * days / (whole * cadence_days), 1)
