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
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine

from pipelines import event_loop
from pipelines.settings import AccountConfig, SyncSettings, load_sync_settings
from pipelines.sync.admission import admit_calls
from pipelines.sync.api_session import api_session
from pipelines.sync.run_finish import TARGETED, finish_targeted_runs, start_runs
from pipelines.tampuuri.catalogue import Catalogue, load_catalogue
from pipelines.webhooks import inbox
from pipelines.webhooks.coalesce import RefreshBatch, plan_refresh
from pipelines.webhooks.event_account import find_event_account
from pipelines.webhooks.events import EventMapping, load_event_mapping
from pipelines.webhooks.held_events import held_by_profiles
from pipelines.webhooks.inbox import Backoff, InboxEvent
from pipelines.webhooks.opt_in import set_aside_unsynced
from pipelines.webhooks.process_record import (
    TRIGGER,
    ProcessResult,
    defer,
    fail,
    park,
    read,
    record,
)
from pipelines.webhooks.refresh import RefreshOutcome, planned_calls, refresh_targets
from pipelines.webhooks.refresh_plan import hints_for

__all__ = ["DEFAULT_MAX_BATCH", "ProcessResult", "process_inbox_once"]
log = logging.getLogger(__name__)
DEFAULT_WINDOW_S = 5.0
DEFAULT_MAX_BATCH = 500
DEFAULT_MAX_TRIES = 5
READ_LIMIT = 5000


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
        events = await asyncio.to_thread(read, engine, inbox.due_events, event_ids, now=now)
        window_s, max_batch = 0.0, max(len(events), 1)
    else:
        events = await asyncio.to_thread(
            read, engine, inbox.pending_events, limit=READ_LIMIT, now=now
        )
        # Each account's events wait for its profile's window (as the sensor's do).
        events = await asyncio.to_thread(
            read, engine, held_by_profiles, events, accounts, now=now, environ=environ
        )
    batch = plan_refresh(events, rules, now=now, window_s=window_s, max_batch=max_batch)
    if batch is None:
        return result
    result.batch_key = batch.batch_key
    result.cursor_event_id = batch.cursor_event_id
    released = [e for e in events if e.event_id <= batch.cursor_event_id]
    result.events = len(released)
    await asyncio.to_thread(park, engine, batch, result)
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
        account = find_event_account(accounts, event_account, environ)
        if account is None:
            await asyncio.to_thread(
                fail, engine, ids, f"account {event_account!r} is not configured",
                result, max_tries, backoff, now,
            )  # fmt: skip
            continue
        targets, account_events = await asyncio.to_thread(
            set_aside_unsynced, engine, account, event_account, batch, account_events, rules, result
        )  # fmt: skip
        if not (ids := [e.event_id for e in account_events]):
            continue
        if check_budget:
            calls = await asyncio.to_thread(
                planned_calls, engine, catalogue, account.name, targets,
                hints_for(account_events, rules),
            )  # fmt: skip
            reason = await asyncio.to_thread(budget_hook, engine, account, catalogue, calls, now)
            if reason is not None:
                await asyncio.to_thread(defer, engine, ids, reason, now)
                result.deferred += len(ids)
                result.deferred_reasons[account.name] = reason
                continue
        outcome = await _refresh_account(
            engine, account, targets, account_events, rules, result,
            catalogue=catalogue, transport=transport, environ=environ, settings=settings,
        )  # fmt: skip
        await asyncio.to_thread(
            record, engine, account, account_events, rules, outcome, result,
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
    await asyncio.to_thread(
        start_runs, engine, account=account.name, run_id=result.run_id, trigger=TRIGGER,
        mode=TARGETED, resources=resources,
    )  # fmt: skip
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
    await asyncio.to_thread(
        finish_targeted_runs, engine, account=account.name, run_id=result.run_id,
        targets=outcome.targets,
    )  # fmt: skip
    return outcome


def budget_hook(
    engine: Engine, account: AccountConfig, catalogue: Catalogue, calls: int, now: datetime
) -> str | None:
    """Ask the budget guard (priority "webhook") whether `calls` fit; the reason if not."""
    del catalogue  # the estimate is already made from it
    return admit_calls(engine, account, calls, priority="webhook", label="webhook_refresh", now=now)
