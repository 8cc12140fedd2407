"""The webhook inbox sensor and the job it launches (Dagster wiring only).

Every few seconds the sensor reads the due inbox events, lets the pure coalescing planner
release one batch, and requests one run of `webhook_refresh_job` for exactly that batch's
event ids, keyed by the batch key (Dagster never launches two runs with one key). The
cursor is the highest event id released: pending events at or below it belong to a run
in flight and are not dispatched again. Failed events that are due again are picked up
whatever the cursor: their `tries` changed, so their batch gets a new key.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.webhooks import inbox
from pipelines.webhooks.coalesce import RefreshBatch, plan_refresh
from pipelines.webhooks.events import EventMapping, load_event_mapping
from pipelines.webhooks.inbox import InboxEvent
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


@dg.op(name=OP_NAME, description="Refresh the rows a batch of webhook events names.")
def webhook_refresh(
    context: dg.OpExecutionContext,
    config: WebhookBatchConfig,
    warehouse: WarehouseResource,
    tampuuri: TampuuriResource,
) -> dg.Output[int]:
    """Run the shared inbox processing for exactly the batch's events."""
    result = process_inbox_once(
        warehouse.engine,
        accounts=tampuuri.configured_accounts(),
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


@dataclass(frozen=True)
class TickPlan:
    """What one sensor tick decided: the batch to run (if any) and the next cursor."""

    batch: RefreshBatch | None
    cursor: int


def plan_tick(
    events: Sequence[InboxEvent],
    mapping: EventMapping,
    *,
    cursor: int,
    now: datetime,
    window_s: float,
    max_batch: int,
) -> TickPlan:
    """Pure: the batch released at `now` from due events not already dispatched."""
    fresh = [e for e in events if e.event_id > cursor or e.status == "failed"]
    batch = plan_refresh(fresh, mapping, now=now, window_s=window_s, max_batch=max_batch)
    if batch is None:
        return TickPlan(None, cursor)
    return TickPlan(batch, max(cursor, batch.cursor_event_id))


def run_request_for(batch: RefreshBatch) -> dg.RunRequest:
    """One run of the refresh job for exactly the batch's events."""
    event_ids = sorted({*batch.event_ids, *batch.unknown_event_ids, *batch.ignored_event_ids})
    return dg.RunRequest(
        run_key=batch.batch_key,
        run_config=dg.RunConfig(
            ops={OP_NAME: WebhookBatchConfig(event_ids=event_ids, batch_key=batch.batch_key)}
        ),
        tags={TRIGGER_TAG: "webhook", BATCH_TAG: batch.batch_key},
    )


def build_webhook_inbox_sensor(
    *,
    interval_s: int = DEFAULT_INTERVAL_S,
    window_s: float = SENSOR_WINDOW_S,
    max_batch: int = DEFAULT_MAX_BATCH,
    mapping: EventMapping | None = None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """The sensor, with its tick interval, coalescing window and batch size."""

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
        cursor = int(context.cursor) if context.cursor else 0
        now = datetime.now(UTC)
        with warehouse.engine.connect() as conn:
            events = inbox.pending_events(conn, after_event_id=0, limit=READ_LIMIT, now=now)
        tick = plan_tick(
            events,
            mapping or load_event_mapping(),
            cursor=cursor,
            now=now,
            window_s=window_s,
            max_batch=max_batch,
        )
        if tick.batch is None:
            waiting = sum(1 for e in events if e.event_id > cursor)
            reason = f"{waiting} event(s) inside the window" if waiting else "no due events"
            return dg.SensorResult(skip_reason=reason, cursor=str(tick.cursor))
        return dg.SensorResult(run_requests=[run_request_for(tick.batch)], cursor=str(tick.cursor))

    return webhook_inbox_sensor


webhook_inbox_sensor = build_webhook_inbox_sensor()
