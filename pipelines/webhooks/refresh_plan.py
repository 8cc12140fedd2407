"""Which way a targeted refresh reads each target, from the resource declarations.

A declaration's `refresh: {one, many}` names the method for a single id and for several
(detail | batch | change_since_scan | scope_scan | list_tail); its `priority` orders the
targets (cost centres first, parties before the links that nest them); `cost_centre` and a
webhook's `secondary` say which hints an event carries. Nothing here names a resource.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from pipelines.declarations import Declared, load_declarations
from pipelines.declarations.schema import RefreshSpec
from pipelines.sync.declared import fan_out_column
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.webhooks.events import EventMapping
from pipelines.webhooks.inbox import InboxEvent
from pipelines.webhooks.refresh_outcome import RefreshHints

TargetKey = tuple[str, str]  # (resource, action)
SCOPE_ACTION = "refresh_scope"
# ReferenceSecondaryId holding the row's own cost centre (schema.Secondary).
COST_CENTRE_SECONDARY = "kustannuspaikka"
DETAIL_ONLY = RefreshSpec(one="detail", many="detail")


def refresh_spec(declared: Declared) -> RefreshSpec:
    return declared.spec.refresh or DETAIL_ONLY


def method_for(declared: Declared, action: str, n_ids: int) -> str:
    """The method a target of `n_ids` ids takes; "scope" for a refresh_scope target."""
    spec = refresh_spec(declared)
    methods = (spec.one, spec.many)
    if action == SCOPE_ACTION:
        return "scope"
    if action == "delete":
        # Deletions are confirmed row by row: absent from the batch route, or a 404.
        for method in ("batch", "detail"):
            if method in methods:
                return method
    # A scope scan groups the ids itself (small groups take `one`).
    return spec.many if n_ids > 1 or spec.many == "scope_scan" else spec.one


def target_order(item: tuple[TargetKey, Sequence[int]]) -> tuple[int, str, str]:
    """Targets by their resource's priority (cost centres first, parties before links:
    a link's nested party then stays fresh), then name and action."""
    resource, action = item[0]
    declared = load_declarations().resources.get(resource)
    return (declared.spec.priority if declared else 1_000_000), resource, action


def scope_column(declared: Declared) -> str | None:
    """The typed column reading the list's `scope_filter` (the object id of the links)."""
    wanted = declared.spec.routes.scope_filter
    return next((c.name for c in declared.spec.columns if c.path == wanted), None)


def grouping_column(declared: Declared) -> str:
    """The column a scope scan groups ids by: the id of the fan-out parent row its list is
    called for (the cost centre of an object)."""
    return fan_out_column(declared)


def hints_cost_centre(declared: Declared, secondary: str | None) -> bool:
    """Whether the rule's ReferenceSecondaryId is the value of the row's grouping column:
    the row's own cost centre where its cost-centre column is held directly (not through
    another row) and is the column its fan-out list is grouped by."""
    cost_centre = declared.spec.cost_centre
    if secondary != COST_CENTRE_SECONDARY or cost_centre is None or cost_centre.through:
        return False
    if not declared.spec.routes.fan_out:
        return True
    return grouping_column(declared) == cost_centre.column


def expected_calls(
    catalogue: Catalogue,
    targets: Mapping[TargetKey, Sequence[int]],
    *,
    scope_calls: Mapping[TargetKey, int] | None = None,
) -> int:
    """A budget estimate of `refresh_targets` (one page per listing, no retries).

    A fan-out target (`scope_scan`) costs what `scope_calls` says (its plan,
    `refresh.planned_calls` reads the warehouse for it), else a detail call per id, the
    most it can cost.
    """
    declared_all = load_declarations().resources
    calls = 0
    for (resource, action), ids in targets.items():
        n = len(set(ids))
        routes = catalogue.resources.get(resource)
        declared = declared_all.get(resource)
        if routes is None or declared is None or n == 0:
            continue
        spec = refresh_spec(declared)
        method = spec.many if n > 1 else spec.one
        if action == SCOPE_ACTION:
            calls += 1 if "list_tail" in (spec.one, spec.many) and routes.ordered_by_id else n
        elif "scope_scan" in (spec.one, spec.many):
            calls += (scope_calls or {}).get((resource, action), n)
        elif "batch" in (spec.one, spec.many) and routes.batch and routes.batch.max_ids:
            calls += math.ceil(n / routes.batch.max_ids)
        elif method == "change_since_scan" and (
            routes.change_since or spec.one == "change_since_scan"
        ):
            calls += 1
        else:
            calls += n
    return calls


def hints_for(events: Sequence[InboxEvent], rules: EventMapping) -> RefreshHints:
    """The oldest event time per resource, and per resource the cost centres its events'
    ReferenceSecondaryId names where the rule's `secondary` is the row's grouping value
    (`hints_cost_centre`)."""
    declared_all = load_declarations().resources
    since: dict[str, datetime] = {}
    cost_centres: dict[str, dict[int, int]] = {}
    for event in events:
        rule = rules.rule(event.action)
        if rule is None or rule.resource is None:
            continue
        if event.event_timestamp is not None:
            current = since.get(rule.resource)
            if current is None or event.event_timestamp < current:
                since[rule.resource] = event.event_timestamp
        declared = declared_all.get(rule.resource)
        hinted = declared is not None and hints_cost_centre(declared, rule.secondary)
        if hinted and event.reference_secondary_id is not None:
            by_id = cost_centres.setdefault(rule.resource, {})
            by_id[event.reference_id] = event.reference_secondary_id
    return RefreshHints(since=since, cost_centres=cost_centres)
