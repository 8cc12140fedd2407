"""What one pass over the webhook inbox writes: event outcomes and run records.

Blocking warehouse calls, each in its own transaction; pipelines/webhooks/process.py
calls every one of them through `asyncio.to_thread`, so none runs on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from pipelines.settings import AccountConfig
from pipelines.warehouse.loader import LoadCounts
from pipelines.webhooks import inbox
from pipelines.webhooks.coalesce import RefreshBatch
from pipelines.webhooks.events import EventMapping
from pipelines.webhooks.inbox import Backoff, InboxEvent
from pipelines.webhooks.refresh import RefreshOutcome

TRIGGER = "webhook"
# A deferred batch (budget) is not a failure: its tries stay, it is simply due later.
DEFER_DELAY = timedelta(minutes=15)
DEFER_EVENTS = text(
    "UPDATE ops.webhook_inbox SET status = 'failed', next_try_at = :at, error = :reason"
    " WHERE event_id = ANY(:ids) AND status IN ('pending', 'failed')"
)


@dataclass
class ProcessResult:
    """What one pass over the inbox did.

    Attributes:
        batch_key: the planned batch (None: nothing was due).
        done / failed / dead / unknown / ignored / deferred: event counts by outcome.
        calls: API calls spent (retries included).
        counts: rows written.
        skipped: (account, resource, id) not readable (403), reported, events done.
        deferred_reasons: per account, why the budget guard deferred its events.
        errors: per failed target, the error (free of secrets).
    """

    run_id: str
    batch_key: str | None = None
    events: int = 0
    done: int = 0
    failed: int = 0
    dead: int = 0
    unknown: int = 0
    ignored: int = 0
    deferred: int = 0
    calls: int = 0
    counts: LoadCounts = field(default_factory=LoadCounts)
    skipped: list[tuple[str, str, int]] = field(default_factory=list)
    deferred_reasons: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cursor_event_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.dead == 0


def read(
    engine: Engine, query: Callable[..., list[InboxEvent]], *args: Any, **kwargs: Any
) -> list[InboxEvent]:
    with engine.connect() as conn:
        return query(conn, *args, **kwargs)


def park(engine: Engine, batch: RefreshBatch, result: ProcessResult) -> None:
    """Unknown types parked as unknown, ignored types done: neither costs a call."""
    with engine.begin() as conn:
        result.unknown = inbox.mark_unknown(conn, batch.unknown_event_ids)
        result.ignored = inbox.mark_done(conn, batch.ignored_event_ids, result.run_id)


def _event_failed(event: InboxEvent, rules: EventMapping, outcome: RefreshOutcome) -> bool:
    rule = rules.rule(event.action)
    if rule is None or rule.resource is None:
        return False
    return event.reference_id in outcome.failed_ids(rule.resource)


def record(
    engine: Engine,
    account: AccountConfig,
    events: list[InboxEvent],
    rules: EventMapping,
    outcome: RefreshOutcome,
    result: ProcessResult,
    max_tries: int,
    backoff: Backoff,
    now: datetime,
) -> None:
    failed = [e.event_id for e in events if _event_failed(e, rules, outcome)]
    done = [e.event_id for e in events if e.event_id not in set(failed)]
    errors = sorted({t.error for t in outcome.targets if t.error})
    for target in outcome.targets:
        result.skipped.extend((account.name, target.resource, i) for i in target.skipped)
    result.errors.extend(errors)
    with engine.begin() as conn:
        result.done += inbox.mark_done(conn, done, result.run_id)
        if failed:
            fail = inbox.mark_failed(
                conn, failed, "; ".join(errors) or "refresh failed",
                max_tries=max_tries, backoff=backoff, now=now,
            )  # fmt: skip
            result.failed += fail.retrying
            result.dead += fail.dead


def fail(
    engine: Engine,
    ids: list[int],
    error: str,
    result: ProcessResult,
    max_tries: int,
    backoff: Backoff,
    now: datetime,
) -> None:
    result.errors.append(error)
    with engine.begin() as conn:
        fail = inbox.mark_failed(conn, ids, error, max_tries=max_tries, backoff=backoff, now=now)
    result.failed += fail.retrying
    result.dead += fail.dead


def defer(engine: Engine, ids: list[int], reason: str, now: datetime) -> None:
    """Hold events back without counting a try (status failed, due after DEFER_DELAY)."""
    with engine.begin() as conn:
        conn.execute(DEFER_EVENTS, {"ids": ids, "at": now + DEFER_DELAY, "reason": reason})
