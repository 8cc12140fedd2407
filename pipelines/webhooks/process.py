"""Processing the webhook inbox: plan (coalesce), refresh, then mark events done or failed.

`process_inbox_once` is the one code path behind both `tampuuri-sync webhooks process`
(drain the inbox once) and the Dagster job `webhook_refresh_job` (exactly one planned
batch). It knows no Dagster.

One pass: read due events (pending, or failed and due again), let the pure planner
coalesce the releasable ones into one batch, check the batch against the account's call
budget (priority "webhook": it may use the webhook reserve), refresh the targets, then
in one transaction mark the events done (with the run id) or failed (retried with
backoff, dead after `max_tries`). Unknown event types are parked as `unknown` (kept and
reported); ignored types are marked done without a call.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, text

from pipelines import event_loop
from pipelines.settings import AccountConfig, ConfigError, SyncSettings, load_sync_settings
from pipelines.sync.admission import admit_calls
from pipelines.sync.api_session import api_session
from pipelines.tampuuri.catalogue import Catalogue, load_catalogue
from pipelines.warehouse import state
from pipelines.warehouse.loader import LoadCounts
from pipelines.webhooks import inbox
from pipelines.webhooks.coalesce import RefreshBatch, plan_refresh
from pipelines.webhooks.events import EventMapping, load_event_mapping
from pipelines.webhooks.inbox import Backoff, InboxEvent
from pipelines.webhooks.refresh import RefreshHints, RefreshOutcome, expected_calls, refresh_targets

log = logging.getLogger(__name__)
TRIGGER = "webhook"
DEFAULT_WINDOW_S = 5.0
DEFAULT_MAX_BATCH = 500
DEFAULT_MAX_TRIES = 5
READ_LIMIT = 5000
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


def process_inbox_once(
    engine: Engine,
    *,
    accounts: Sequence[AccountConfig],
    catalogue: Catalogue | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    window_s: float = DEFAULT_WINDOW_S,
    max_batch: int = DEFAULT_MAX_BATCH,
    run_id: str | None = None,
    event_ids: Sequence[int] | None = None,
    mapping: EventMapping | None = None,
    settings: SyncSettings | None = None,
    max_tries: int = DEFAULT_MAX_TRIES,
    backoff: Backoff | None = None,
    check_budget: bool = True,
) -> ProcessResult:
    """Plan one batch of due inbox events, refresh it and record every event's outcome.

    Args:
        engine: the warehouse.
        accounts: configured accounts; an event's `Account` matches an account's name or
            its Tampuuri account name (X-TiliNimi).
        catalogue: the route catalogue (config/routes.yaml by default).
        transport: httpx transport (tests: ASGITransport over the simulator).
        environ: where credentials are read from (os.environ by default).
        now: the clock (tests); UTC now by default.
        window_s: the coalescing window (events younger than this wait).
        max_batch: at most this many distinct targets per batch.
        run_id: written on done events, history versions and call records.
        event_ids: process exactly these events (the Dagster run of a sensor's batch);
            they were released by the sensor already, so no window applies.
        mapping: event types -> rules (config/events.yaml by default).
        settings: sync tunables (timeouts, retries, overlap).
        max_tries: failed processing attempts before an event is dead.
        backoff: delays between retries of failed events.
        check_budget: ask the budget guard before spending calls.
    """
    clock = now or datetime.now(UTC)
    result = ProcessResult(run_id=run_id or f"webhook-{uuid.uuid4().hex[:12]}")
    return event_loop.run(
        _process(
            engine,
            result,
            mapping or load_event_mapping(),
            accounts=accounts,
            catalogue=catalogue,
            transport=transport,
            environ=environ,
            now=clock,
            window_s=window_s,
            max_batch=max_batch,
            event_ids=event_ids,
            settings=settings,
            max_tries=max_tries,
            backoff=backoff or Backoff(),
            check_budget=check_budget,
        )
    )


async def _process(
    engine: Engine,
    result: ProcessResult,
    rules: EventMapping,
    *,
    accounts: Sequence[AccountConfig],
    catalogue: Catalogue | None,
    transport: httpx.AsyncBaseTransport | None,
    environ: Mapping[str, str] | None,
    now: datetime,
    window_s: float,
    max_batch: int,
    event_ids: Sequence[int] | None,
    settings: SyncSettings | None,
    max_tries: int,
    backoff: Backoff,
    check_budget: bool,
) -> ProcessResult:
    # Every warehouse call of the pass runs in a worker thread: none blocks the loop.
    if event_ids is not None:
        events = await asyncio.to_thread(_read, engine, inbox.due_events, event_ids, now=now)
        window_s, max_batch = 0.0, max(len(events), 1)
    else:
        events = await asyncio.to_thread(
            _read, engine, inbox.pending_events, limit=READ_LIMIT, now=now
        )
    batch = plan_refresh(events, rules, now=now, window_s=window_s, max_batch=max_batch)
    if batch is None:
        return result
    result.batch_key = batch.batch_key
    result.cursor_event_id = batch.cursor_event_id
    released = [e for e in events if e.event_id <= batch.cursor_event_id]
    result.events = len(released)
    await asyncio.to_thread(_park, engine, batch, result)
    refreshed = set(batch.event_ids)
    await _refresh_batch(
        engine,
        batch,
        [e for e in released if e.event_id in refreshed],
        rules,
        result,
        accounts=accounts,
        catalogue=catalogue if catalogue is not None else await asyncio.to_thread(load_catalogue),
        transport=transport,
        environ=environ,
        settings=settings if settings is not None else await asyncio.to_thread(load_sync_settings),
        now=now,
        max_tries=max_tries,
        backoff=backoff,
        check_budget=check_budget,
    )
    return result


def _read(
    engine: Engine, query: Callable[..., list[InboxEvent]], *args: Any, **kwargs: Any
) -> list[InboxEvent]:
    with engine.connect() as conn:
        return query(conn, *args, **kwargs)


def _park(engine: Engine, batch: RefreshBatch, result: ProcessResult) -> None:
    """Unknown types parked as unknown, ignored types done: neither costs a call."""
    with engine.begin() as conn:
        result.unknown = inbox.mark_unknown(conn, batch.unknown_event_ids)
        result.ignored = inbox.mark_done(conn, batch.ignored_event_ids, result.run_id)


async def _refresh_batch(
    engine: Engine,
    batch: RefreshBatch,
    events: list[InboxEvent],
    rules: EventMapping,
    result: ProcessResult,
    *,
    accounts: Sequence[AccountConfig],
    catalogue: Catalogue,
    transport: httpx.AsyncBaseTransport | None,
    environ: Mapping[str, str] | None,
    settings: SyncSettings,
    now: datetime,
    max_tries: int,
    backoff: Backoff,
    check_budget: bool,
) -> None:
    by_account: dict[str, list[InboxEvent]] = {}
    for event in events:
        by_account.setdefault(event.account, []).append(event)
    for event_account, account_events in sorted(by_account.items()):
        ids = [e.event_id for e in account_events]
        account = _find_account(accounts, event_account, environ)
        if account is None:
            await asyncio.to_thread(
                _fail, engine, ids, f"account {event_account!r} is not configured",
                result, max_tries, backoff, now,
            )  # fmt: skip
            continue
        targets = {
            (resource, action): target_ids
            for (acc, resource, action), target_ids in batch.targets.items()
            if acc == event_account
        }
        if check_budget:
            reason = await asyncio.to_thread(
                budget_hook, engine, account, catalogue, expected_calls(catalogue, targets), now
            )
            if reason is not None:
                await asyncio.to_thread(_defer, engine, ids, reason, now)
                result.deferred += len(ids)
                result.deferred_reasons[account.name] = reason
                continue
        outcome = await _refresh_account(
            engine, account, targets, account_events, rules, result,
            catalogue=catalogue, transport=transport, environ=environ, settings=settings,
        )  # fmt: skip
        await asyncio.to_thread(
            _record, engine, account, account_events, rules, outcome, result,
            max_tries, backoff, now,
        )  # fmt: skip


async def _refresh_account(
    engine: Engine,
    account: AccountConfig,
    targets: dict[tuple[str, str], tuple[int, ...]],
    events: list[InboxEvent],
    rules: EventMapping,
    result: ProcessResult,
    *,
    catalogue: Catalogue,
    transport: httpx.AsyncBaseTransport | None,
    environ: Mapping[str, str] | None,
    settings: SyncSettings,
) -> RefreshOutcome:
    resources = sorted({resource for resource, _ in targets})
    await asyncio.to_thread(_runs_started, engine, account.name, resources, result.run_id)
    async with api_session(
        engine,
        account,
        settings=settings,
        trigger=TRIGGER,
        run_id=result.run_id,
        transport=transport,
        environ=environ,
    ) as client:
        outcome = await refresh_targets(
            client,
            engine,
            catalogue,
            account.name,
            targets,
            run_id=result.run_id,
            hints=hints_for(events, rules),
            overlap=timedelta(minutes=settings.overlap_minutes),
            page_concurrency=settings.page_concurrency,
            max_passes=settings.max_drift_passes,
        )
    result.calls += client.calls
    result.counts = result.counts + outcome.counts
    await asyncio.to_thread(_runs_finished, engine, account.name, outcome, result.run_id)
    return outcome


def hints_for(events: Sequence[InboxEvent], rules: EventMapping) -> RefreshHints:
    """The oldest event time per resource and the cost centres the events name."""
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
        if rule.secondary == "kustannuspaikka" and event.reference_secondary_id is not None:
            by_id = cost_centres.setdefault(rule.resource, {})
            by_id[event.reference_id] = event.reference_secondary_id
    return RefreshHints(since=since, cost_centres=cost_centres)


def budget_hook(
    engine: Engine, account: AccountConfig, catalogue: Catalogue, calls: int, now: datetime
) -> str | None:
    """Ask the budget guard (priority "webhook") whether `calls` fit; the reason if not."""
    del catalogue  # the estimate is already made from it
    return admit_calls(engine, account, calls, priority="webhook", label="webhook_refresh", now=now)


def _find_account(
    accounts: Sequence[AccountConfig], name: str, environ: Mapping[str, str] | None
) -> AccountConfig | None:
    """The account an event belongs to: by label, else by its Tampuuri account name."""
    for account in accounts:
        if account.name == name:
            return account
    for account in accounts:
        try:
            if account.resolve_credentials(environ).account_name == name:
                return account
        except ConfigError:
            continue
    return None


def _event_failed(event: InboxEvent, rules: EventMapping, outcome: RefreshOutcome) -> bool:
    rule = rules.rule(event.action)
    if rule is None or rule.resource is None:
        return False
    return event.reference_id in outcome.failed_ids(rule.resource)


def _record(
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


def _fail(
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


def _defer(engine: Engine, ids: list[int], reason: str, now: datetime) -> None:
    """Hold events back without counting a try (status failed, due after DEFER_DELAY)."""
    with engine.begin() as conn:
        conn.execute(DEFER_EVENTS, {"ids": ids, "at": now + DEFER_DELAY, "reason": reason})


def _runs_started(engine: Engine, account: str, resources: list[str], run_id: str) -> None:
    with engine.begin() as conn:
        for resource in resources:
            state.start_run(
                conn, run_id=run_id, account=account, resource=resource,
                trigger=TRIGGER, mode="targeted",
            )  # fmt: skip


def _runs_finished(engine: Engine, account: str, outcome: RefreshOutcome, run_id: str) -> None:
    with engine.begin() as conn:
        for resource in sorted({t.resource for t in outcome.targets}):
            mine = [t for t in outcome.targets if t.resource == resource]
            counts = LoadCounts()
            for target in mine:
                counts = counts + target.counts
            errors = sorted({t.error for t in mine if t.error})
            state.finish_run(
                conn,
                run_id=run_id,
                account=account,
                resource=resource,
                status="failed" if errors else "success",
                counts=counts,
                pages=0,
                calls=sum(t.calls for t in mine),
                retries=0,
                skipped=[{"resource": resource, "id": i, "reason": "403"} for t in mine
                         for i in t.skipped],
                new_fields=[],
                error="; ".join(errors) or None,
            )  # fmt: skip
