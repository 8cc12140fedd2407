"""The inbox events due by each account's profile window, for the paths outside the sensor
(`tampuuri-sync webhooks process`): the windows in force now (adjustments included, no
step taken; the sensor and the sweep take steps)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from pipelines.profiles.adapt import current_profiles
from pipelines.profiles.windows import due_events
from pipelines.settings import AccountConfig
from pipelines.webhooks.event_account import event_labels
from pipelines.webhooks.inbox import InboxEvent

if TYPE_CHECKING:
    from pipelines.webhooks.events import EventMapping


def held_by_profiles(
    conn: Connection,
    events: Sequence[InboxEvent],
    accounts: Sequence[AccountConfig],
    *,
    now: datetime,
    environ: Mapping[str, str] | None = None,
    mapping: EventMapping | None = None,
) -> list[InboxEvent]:
    """The events whose (account, route) window has elapsed (others wait for a later pass);
    `mapping` names each event's route (the configured event rules by default)."""
    if not events:
        return []
    applied = current_profiles(conn, accounts, now=now)
    windows = {name: p.loosening.webhook_window_s for name, p in applied.items()}
    labels = event_labels(accounts, (e.account for e in events), environ)
    if mapping is None:  # here, not at module level: no package edge to webhooks.events
        from pipelines.webhooks.events import load_event_mapping

        mapping = load_event_mapping()
    return due_events(events, windows, now=now, labels=labels, mapping=mapping)[0]
