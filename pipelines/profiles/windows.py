"""Which webhook events are due: each account's events of each route are batched on the
account's window (pure).

An account's waiting events of one route (the resource its rule refreshes: notices, cost
centres, parties, links, objects; unknown events form one more group) are released
together once the oldest of them is as old as the account's window (its freshness
target): every change then reaches the warehouse within the window (plus a sensor tick),
and a busy route pays one call per window rather than one per tick. Each route runs on
its own windows (issue 19.3): releasing all of an account's events once the oldest of
any route is due would call every other route early, its window cut short. Events of an
account no window is known for use the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: no package edge profiles -> webhooks
    from pipelines.webhooks.events import EventMapping
    from pipelines.webhooks.inbox import InboxEvent


@dataclass(frozen=True)
class Waiting:
    """An account's route whose events wait for the window: how many, seconds until due."""

    account: str
    events: int
    window_s: float
    due_in_s: float
    route: str = ""

    def describe(self) -> str:
        route = f" ({self.route})" if self.route else ""
        return (
            f"{self.account}: {self.events} event(s) held for its {self.window_s:,.0f} s"
            f" window (due in {self.due_in_s:,.0f} s){route}"
        )


def route_of(event: InboxEvent, mapping: EventMapping | None) -> str:
    """The route an event's refresh calls: its rule's resource ('' unknown or no mapping)."""
    rule = mapping.rule(event.action) if mapping is not None else None
    return (rule.resource or "") if rule is not None else ""


def due_events(
    events: Sequence[InboxEvent],
    windows: Mapping[str, float],
    *,
    now: datetime,
    default_window_s: float = 0.0,
    labels: Mapping[str, str] | None = None,
    mapping: EventMapping | None = None,
) -> tuple[list[InboxEvent], list[Waiting]]:
    """The events whose (account, route) window has elapsed, and the groups still waiting.

    Args:
        events: the free pending events (not held by a run in flight).
        windows: account label -> window in seconds.
        now: the tick time.
        default_window_s: the window of an account not in `windows`.
        labels: an event's account name -> the account's label, where they differ (a
            webhook may name the Tampuuri account: `webhooks/event_account.py`).
        mapping: the event rules that name each event's route (None: one group per account).
    """
    named = labels or {}

    def group(event: InboxEvent) -> tuple[str, str]:
        return named.get(event.account, event.account), route_of(event, mapping)

    oldest: dict[tuple[str, str], datetime] = {}
    counts: dict[tuple[str, str], int] = {}
    for event in events:
        key = group(event)
        if key not in oldest or event.received_at < oldest[key]:
            oldest[key] = event.received_at
        counts[key] = counts.get(key, 0) + 1
    waiting: dict[tuple[str, str], Waiting] = {}
    for (account, route), first in sorted(oldest.items()):
        window = windows.get(account, default_window_s)
        due_in = window - (now - first).total_seconds()
        if due_in > 0:
            key = (account, route)
            waiting[key] = Waiting(account, counts[key], window, due_in, route)
    due = [e for e in events if group(e) not in waiting]
    return due, list(waiting.values())
