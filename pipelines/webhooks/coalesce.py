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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipelines.webhooks.events import EventMapping
from pipelines.webhooks.inbox import InboxEvent

TargetKey = tuple[str, str, str]  # (account, resource, action)


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
