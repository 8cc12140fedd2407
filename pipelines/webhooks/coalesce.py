"""The coalescing planner: pending inbox events -> one refresh batch (pure, no I/O).

Webhooks arrive in bursts (an edit in Tampuuri's UI can fire many events on one row),
and every refresh costs billed API calls, so events are held for a coalescing window and
then released together: all events on one (account, resource, id) become one target.

Release rule: events are taken in event_id (arrival) order and released while they are
older than the window by their receipt time (our clock, not the sender's `Timestamp`).
The released events are a prefix of the pending list, so the cursor (the highest
released event id) never jumps over an event that is still held. A burst that is over
by the time the planner runs is therefore one batch. `max_batch` bounds the distinct
targets (the API work) of one batch; events on targets already in the batch are always
absorbed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pipelines.webhooks.events import EventMapping
from pipelines.webhooks.inbox import InboxEvent

Strategy = Literal["batch", "change_since", "scope_listing", "single"]
TargetKey = tuple[str, str, str]  # (account, resource, action)
DEFAULT_SCOPE_THRESHOLD = 2


@dataclass(frozen=True)
class RefreshBatch:
    """One unit of refresh work.

    Attributes:
        batch_key: unique per batch (a Dagster run key); a retry of the same events after
            a failure gets a new key because their `tries` changed.
        event_ids: the events the targets cover (mark done when the refresh succeeds).
        targets: (account, resource, action) -> sorted ids. Action is refresh, delete or
            refresh_scope (ids are then object ids whose links to re-read).
        cursor_event_id: the highest event id released (the sensor's next cursor).
        unknown_event_ids: events whose type the mapping does not know (park as unknown).
        ignored_event_ids: events of types mapped to `ignore` (mark done, no API call).
        scopes: (account, resource) -> cost centre id -> ids changed in it, for events
            whose ReferenceSecondaryId names the cost centre (the scope-listing choice).
    """

    batch_key: str
    event_ids: tuple[int, ...]
    targets: Mapping[TargetKey, tuple[int, ...]]
    cursor_event_id: int
    unknown_event_ids: tuple[int, ...] = ()
    ignored_event_ids: tuple[int, ...] = ()
    scopes: Mapping[tuple[str, str], Mapping[int, tuple[int, ...]]] = field(default_factory=dict)


def plan_refresh(
    events: Sequence[InboxEvent],
    mapping: EventMapping,
    *,
    now: datetime,
    window_s: float,
    max_batch: int,
) -> RefreshBatch | None:
    """Coalesce the releasable events into one batch, or None when nothing is due.

    Args:
        events: pending inbox events (any order; sorted by event id here).
        mapping: event type -> rule.
        now: the clock (the sensor's tick time).
        window_s: events younger than this (by received_at) are held back.
        max_batch: at most this many distinct targets (account, resource, id) per batch.
    """
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    cutoff = now - timedelta(seconds=window_s)
    # Last event wins between refresh and delete of one row (both are safe: a refresh
    # that meets a 404 soft-deletes, a delete confirmation that finds the row keeps it).
    # Keyed by (account, resource, kind, id): kind "row" (refresh/delete of that row) or
    # "links" (refresh_scope: the id is an object whose links to re-read).
    row_actions: dict[tuple[str, str, str, int], str] = {}
    released: list[InboxEvent] = []
    refresh_ids: list[int] = []
    unknown: list[int] = []
    ignored: list[int] = []
    scopes: dict[tuple[str, str], dict[int, set[int]]] = {}
    for event in sorted(events, key=lambda e: e.event_id):
        if event.received_at > cutoff:
            break
        rule = mapping.rule(event.action)
        if rule is None:
            unknown.append(event.event_id)
        elif rule.ignored or rule.resource is None:
            ignored.append(event.event_id)
        else:
            kind = "links" if rule.action == "refresh_scope" else "row"
            key = (event.account, rule.resource, kind, event.reference_id)
            if key not in row_actions and len(row_actions) >= max_batch:
                break
            row_actions[key] = rule.action
            refresh_ids.append(event.event_id)
            if rule.secondary == "kustannuspaikka" and event.reference_secondary_id is not None:
                scope = scopes.setdefault((event.account, rule.resource), {})
                scope.setdefault(event.reference_secondary_id, set()).add(event.reference_id)
        released.append(event)
    if not released:
        return None
    targets: dict[TargetKey, list[int]] = {}
    for (account, resource, _kind, row_id), action in row_actions.items():
        targets.setdefault((account, resource, action), []).append(row_id)
    return RefreshBatch(
        batch_key=_batch_key(released),
        event_ids=tuple(refresh_ids),
        targets={key: tuple(sorted(ids)) for key, ids in sorted(targets.items())},
        cursor_event_id=max(e.event_id for e in released),
        unknown_event_ids=tuple(unknown),
        ignored_event_ids=tuple(ignored),
        scopes={
            key: {cc: tuple(sorted(ids)) for cc, ids in sorted(by_cc.items())}
            for key, by_cc in sorted(scopes.items())
        },
    )


def _batch_key(released: Sequence[InboxEvent]) -> str:
    digest = hashlib.sha256()
    for event in released:
        digest.update(f"{event.event_id}:{event.tries};".encode())
    first, last = released[0].event_id, released[-1].event_id
    return f"webhooks-{first}-{last}-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class ResourceFeatures:
    """What the route catalogue offers for one resource (config/routes.yaml)."""

    batch_max_ids: int | None = None  # a many-ids route (osapuolitiedot/osapuolet/hae)
    change_since: bool = False  # the list route has a changed-since filter
    scope_listing: bool = False  # a per-cost-centre listing (POST kohteet/{cc}/selaa)
    detail: bool = False  # a single-row route

    @classmethod
    def from_route_config(cls, resource: Mapping[str, Any]) -> ResourceFeatures:
        """From one resource's entry under `resources:` in config/routes.yaml."""
        batch = resource.get("batch")
        return cls(
            batch_max_ids=int(batch.get("max_ids", 250)) if isinstance(batch, Mapping) else None,
            change_since=bool(resource.get("change_since")),
            scope_listing=bool(resource.get("fan_out")) and resource.get("list") is not None,
            detail=resource.get("detail") is not None,
        )


def choose_strategy(
    resource: str,
    n_ids: int,
    catalogue_features: ResourceFeatures,
    *,
    max_in_one_scope: int = 0,
    scope_threshold: int = DEFAULT_SCOPE_THRESHOLD,
) -> Strategy:
    """The cheapest way to refresh `n_ids` rows of one resource (calls in brackets).

    1. "batch" when the catalogue has a many-ids route: ceil(n / max_ids) calls.
    2. "change_since" when more than one id changed and the list route filters by
       change time: one list call (one page of up to 250 rows changed since the oldest
       event, minus the overlap; more pages only if that many rows changed).
    3. "scope_listing" when at least `scope_threshold` (K) objects of one cost centre
       changed: one scope listing per such cost centre (ceil(rows in scope / 250) calls,
       one for a typical housing company) instead of K detail calls.
    4. "single": n detail calls (for links: n filtered list calls, one per object).

    Deletions are confirmed row by row (404 on the detail route, or absence from the
    batch route): the caller uses "batch" or "single" for them, never a listing.

    Args:
        resource: the resource name (for messages; the features carry the routes).
        n_ids: how many distinct ids to refresh.
        catalogue_features: the routes available for this resource.
        max_in_one_scope: the most ids that share one cost centre.
        scope_threshold: K, the ids in one cost centre that make a listing worth it.
    """
    del resource  # the features decide; the name only documents the call site
    if catalogue_features.batch_max_ids:
        return "batch"
    if n_ids > 1 and catalogue_features.change_since:
        return "change_since"
    if catalogue_features.scope_listing and max_in_one_scope >= max(scope_threshold, 1):
        return "scope_listing"
    return "single"


def strategy_calls(
    strategy: Strategy, n_ids: int, catalogue_features: ResourceFeatures, *, scopes: int = 1
) -> int:
    """Calls a strategy spends, assuming one page per listing (see choose_strategy)."""
    if n_ids <= 0:
        return 0
    if strategy == "batch":
        return math.ceil(n_ids / (catalogue_features.batch_max_ids or 1))
    if strategy == "change_since":
        return 1
    if strategy == "scope_listing":
        return scopes
    return n_ids
