"""The webhook inbox sensor and the job it launches (Dagster wiring only).

Every few seconds the sensor asks Dagster how the runs it dispatched are doing, reads the
due inbox events that no unfinished run holds, lets the pure planner
(pipelines/webhooks/dispatch.py) release one batch, and requests one run of
`webhook_refresh_job` for exactly that batch's event ids. The cursor holds the events of
runs not yet finished, never a high-water mark: an event committed out of order, or left
pending by a run that failed, was canceled or whose worker died, is dispatched again.

Each account's events of each route are batched on the account's window (its profile's
freshness target, widened while its forecast is over its package: pipelines/profiles/):
they wait until the oldest of them is as old as the window, while another route's or
account's go at once (`profiles/windows.py`). Each tick first evaluates the accounts'
profiles; a step taken is logged with why.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import dagster as dg

from pipelines.assets.account_pool import account_pools
from pipelines.profiles.adapt import adapt_accounts
from pipelines.profiles.windows import due_events
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.settings import AccountConfig, ConfigError, load_accounts
from pipelines.webhooks import inbox
from pipelines.webhooks.coalesce import RefreshBatch
from pipelines.webhooks.dispatch import (
    DEFAULT_GRACE_S,
    DEFAULT_MAX_IN_FLIGHT,
    DispatchCursor,
    RunState,
    batch_event_ids,
    plan_tick,
    settle,
)
from pipelines.webhooks.event_account import event_labels
from pipelines.webhooks.events import EventMapping, load_event_mapping
from pipelines.webhooks.process import DEFAULT_MAX_BATCH, process_inbox_once

WEBHOOK_JOB = "webhook_refresh_job"
WEBHOOK_SENSOR = "webhook_inbox_sensor"
OP_NAME = "webhook_refresh"
# Dagster's sensor daemon loops every 5 s; an interval of 5 s aliases to 10 s (a tick
# 4.99 s after the last one is skipped), so ask for 1 s and get every loop.
DEFAULT_INTERVAL_S = 1
# The sensor coalesces by tick: the daemon's 5 s loop already groups a burst, so no extra
# window (process_inbox_once keeps DEFAULT_WINDOW_S for callers without ticks).
SENSOR_WINDOW_S = 0.0
READ_LIMIT = 5000
TRIGGER_TAG = "tampuuri/trigger"
BATCH_TAG = "tampuuri/webhook_batch"


class WebhookBatchConfig(dg.Config):
    """The events one run refreshes (set by the sensor)."""

    event_ids: list[int]
    batch_key: str = ""
    # The accounts the batch calls: the run holds a slot of each one's pool (None, as in a
    # launch from the UI that leaves it out: every configured account's).
    accounts: list[str] | None = None


@dg.op(name=OP_NAME, description="Refresh the rows a batch of webhook events names.")
def webhook_refresh(
    context: dg.OpExecutionContext,
    config: WebhookBatchConfig,
    warehouse: WarehouseResource,
    tampuuri: TampuuriResource,
) -> dg.Output[int]:
    """Run the shared inbox processing for exactly the batch's events."""
    accounts = tampuuri.configured_accounts()
    named = config.accounts if config.accounts is not None else [a.name for a in accounts]
    with account_pools(context, named):
        result = process_inbox_once(
            warehouse.engine,
            accounts=accounts,
            transport=tampuuri.transport,
            event_ids=config.event_ids,
            run_id=context.run_id,
        )
    for name, reason in result.deferred_reasons.items():
        context.log.warning(f"{name}: webhook refresh deferred: {reason}")
    for error in result.errors:
        context.log.warning(f"refresh failed (events retried with backoff): {error}")
    return dg.Output(
        result.done,
        metadata={
            "events": result.events,
            "done": result.done,
            "failed": result.failed,
            "dead": result.dead,
            "unknown": result.unknown,
            "deferred": result.deferred,
            "calls": result.calls,
            "inserted": result.counts.inserted,
            "updated": result.counts.updated,
            "deleted": result.counts.deleted,
            "stale": result.counts.stale,
            "skipped (403)": len(result.skipped),
        },
    )


# One small op: run it in the run's own process (a second process costs ~2.5 s of latency).
@dg.job(name=WEBHOOK_JOB, tags={TRIGGER_TAG: "webhook"}, executor_def=dg.in_process_executor)
def webhook_refresh_job() -> None:
    """Targeted refresh of one coalesced batch of webhook events."""
    webhook_refresh()


def run_request_for(batch: RefreshBatch, run_key: str) -> dg.RunRequest:
    """One run of the refresh job for exactly the batch's events."""
    return dg.RunRequest(
        run_key=run_key,
        run_config=dg.RunConfig(
            ops={
                OP_NAME: WebhookBatchConfig(
                    event_ids=list(batch_event_ids(batch)),
                    batch_key=run_key,
                    accounts=sorted({key[0] for key in [*batch.targets, *batch.scopes]}),
                )
            }
        ),
        tags={TRIGGER_TAG: "webhook", BATCH_TAG: run_key},
    )


def run_states(instance: dg.DagsterInstance, run_keys: Sequence[str]) -> dict[str, RunState]:
    """What Dagster knows of each dispatched run (found by its batch tag)."""
    states: dict[str, RunState] = {}
    for run in instance.get_runs(filters=dg.RunsFilter(tags={BATCH_TAG: list(run_keys)})):
        key = run.tags.get(BATCH_TAG, "")
        # Two runs with one key cannot happen through Dagster; if it did, any active wins.
        if states.get(key) != "active":
            states[key] = _state(run)
    return states


def _state(run: dg.DagsterRun) -> RunState:
    if not run.is_finished:
        return "active"
    return "succeeded" if run.status == dg.DagsterRunStatus.SUCCESS else "failed"


def build_webhook_inbox_sensor(
    *,
    interval_s: int = DEFAULT_INTERVAL_S,
    window_s: float = SENSOR_WINDOW_S,
    max_batch: int = DEFAULT_MAX_BATCH,
    mapping: EventMapping | None = None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    grace_s: float = DEFAULT_GRACE_S,
    accounts: Callable[[], Sequence[AccountConfig]] | None = None,
) -> dg.SensorDefinition:
    """The sensor, with its tick interval, coalescing window and batch size.

    `max_in_flight` bounds the runs dispatched and not finished (and so the cursor);
    `grace_s` is how long a dispatched run may be absent from Dagster before its events
    are dispatched again. `accounts` gives the configured accounts, read each tick: their
    profiles' windows apply on top of `window_s` (None: `window_s` alone, for every event).
    """

    @dg.sensor(
        name=WEBHOOK_SENSOR,
        job=webhook_refresh_job,
        minimum_interval_seconds=interval_s,
        default_status=default_status,
        description="Coalesces webhook inbox events into targeted refresh runs.",
    )
    def webhook_inbox_sensor(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SensorResult:
        now = datetime.now(UTC)
        cursor = DispatchCursor.from_text(context.cursor)
        keys = [r.run_key for r in cursor.runs]
        states = run_states(context.instance, keys) if keys else {}
        cursor, again = settle(cursor, states, now=now.timestamp(), grace_s=grace_s)
        listed = accounts() if accounts is not None else ()
        profiles = adapt_accounts(warehouse.engine, listed, now=now, log=context.log.info)
        with warehouse.engine.connect() as conn:
            events = inbox.pending_events(conn, limit=READ_LIMIT, now=now, exclude=cursor.held)
        windows = {name: p.loosening.webhook_window_s for name, p in profiles.items()}
        labels = event_labels(listed, {e.account for e in events}, None) if listed else {}
        rules = mapping or load_event_mapping()
        events, waiting = due_events(events, windows, now=now, labels=labels, mapping=rules)
        tick = plan_tick(
            events,
            rules,
            cursor=cursor,
            now=now,
            window_s=window_s,
            max_batch=max_batch,
            max_in_flight=max_in_flight,
        )
        for run_key in again:
            state = states.get(run_key, "missing")
            what = "failed or was canceled" if state == "failed" else "never appeared in Dagster"
            context.log.warning(f"run {run_key} {what}: its pending events are dispatched again")
        if tick.batch is None or tick.run_key is None:
            said = [w.describe() for w in waiting]
            reason = "; ".join([tick.reason, *said] if events or not said else said)
            return dg.SensorResult(skip_reason=reason, cursor=tick.cursor.to_text())
        return dg.SensorResult(
            run_requests=[run_request_for(tick.batch, tick.run_key)],
            cursor=tick.cursor.to_text(),
        )

    return webhook_inbox_sensor


def configured_accounts() -> list[AccountConfig]:
    """The configured accounts, or none while the configuration is broken (the sync runs
    say why; the sensor then batches every event on the global window)."""
    try:
        return load_accounts()
    except ConfigError:
        return []


webhook_inbox_sensor = build_webhook_inbox_sensor()
