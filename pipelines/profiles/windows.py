"""Which accounts' webhook events are due: each account is batched on its own window (pure).

An account's waiting events are released together once the oldest of them is as old as
the account's window (its freshness target): every change then reaches the warehouse
within the window (plus a sensor tick), and a busy account pays one batch per window
rather than one per tick. Events of an account no window is known for use the default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pipelines.webhooks.inbox import InboxEvent


@dataclass(frozen=True)
class Waiting:
    """An account whose events wait for its window: how many, and seconds until due."""

    account: str
    events: int
    window_s: float
    due_in_s: float

    def describe(self) -> str:
        return (
            f"{self.account}: {self.events} event(s) held for its {self.window_s:,.0f} s"
            f" window (due in {self.due_in_s:,.0f} s)"
        )


def due_events(
    events: Sequence[InboxEvent],
    windows: Mapping[str, float],
    *,
    now: datetime,
    default_window_s: float = 0.0,
    labels: Mapping[str, str] | None = None,
) -> tuple[list[InboxEvent], list[Waiting]]:
    """The events whose account's window has elapsed, and the accounts still waiting.

    Args:
        events: the free pending events (not held by a run in flight).
        windows: account label -> window in seconds.
        now: the tick time.
        default_window_s: the window of an account not in `windows`.
        labels: an event's account name -> the account's label, where they differ (a
            webhook may name the Tampuuri account: `webhooks/event_account.py`).
    """
    named = labels or {}
    oldest: dict[str, datetime] = {}
    counts: dict[str, int] = {}
    for event in events:
        label = named.get(event.account, event.account)
        if label not in oldest or event.received_at < oldest[label]:
            oldest[label] = event.received_at
        counts[label] = counts.get(label, 0) + 1
    waiting: dict[str, Waiting] = {}
    for account, first in sorted(oldest.items()):
        window = windows.get(account, default_window_s)
        due_in = window - (now - first).total_seconds()
        if due_in > 0:
            waiting[account] = Waiting(account, counts[account], window, due_in)
    due = [e for e in events if named.get(e.account, e.account) not in waiting]
    return due, list(waiting.values())
