"""Counts of the webhook inbox for the CLI and the UI (by status, by event type, unknown
types, dead letters, the oldest event still to process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from pipelines.webhooks.inbox_sql import BY_ACTION, DEAD_LETTERS, OLDEST_DUE


@dataclass(frozen=True)
class InboxSummary:
    """Counts for the CLI and the UI."""

    by_status: dict[str, int] = field(default_factory=dict)
    # (action, status) -> count
    by_action: dict[tuple[str, str], int] = field(default_factory=dict)
    unknown_types: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    oldest_pending_at: datetime | None = None


def inbox_summary(conn: Connection) -> InboxSummary:
    """Counts by status and by (action, status), unknown types, dead letters."""
    by_action: dict[tuple[str, str], int] = {}
    by_status: dict[str, int] = {}
    unknown: dict[str, int] = {}
    rows = conn.execute(BY_ACTION).all()
    for action, status, count in rows:
        by_action[(action, status)] = count
        by_status[status] = by_status.get(status, 0) + count
        if status == "unknown":
            unknown[action] = unknown.get(action, 0) + count
    dead_letters = conn.execute(DEAD_LETTERS).scalar_one()
    oldest = conn.execute(OLDEST_DUE).scalar_one()
    return InboxSummary(
        by_status=dict(sorted(by_status.items())),
        by_action=dict(sorted(by_action.items())),
        unknown_types=dict(sorted(unknown.items())),
        dead_letters=dead_letters,
        oldest_pending_at=oldest,
    )
