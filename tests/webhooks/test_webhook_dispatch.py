"""The webhook sensor's dispatch plan (pure, plain data): the cursor holds exactly the events
of unfinished runs (compactly, as ranges; an old integer cursor reads as empty); a tick
lets go of finished runs and of runs Dagster never showed within the grace period, and
names those whose events are due again; held events are never dispatched twice; a tick
evaluated twice on one cursor repeats its run key, a re-dispatch gets a new one; the
number of runs in flight, and so the cursor, is bounded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.webhooks.dispatch import DispatchCursor, InFlight, plan_tick, settle
from pipelines.webhooks.inbox import InboxEvent

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _event(event_id: int, ref: int | None = None) -> InboxEvent:
    return InboxEvent(
        event_id=event_id,
        account="demo-a",
        action="IlmoitusUusi",
        reference_id=ref if ref is not None else event_id,
        reference_secondary_id=None,
        received_at=NOW - timedelta(minutes=1),
    )


def test_cursor_round_trip_is_exact_and_compact():
    ids = (*range(1, 1001), 1003, *range(2000, 3001))
    cursor = DispatchCursor(seq=7, runs=(InFlight("webhooks-1-3000-x-d7", ids, 12.5),))
    text = cursor.to_text()
    assert DispatchCursor.from_text(text) == cursor
    assert "[[1,1000],[1003,1003],[2000,3000]]" in text and len(text) < 120
    assert DispatchCursor.from_text("4711") == DispatchCursor()  # the old high-water mark
    assert DispatchCursor.from_text(None) == DispatchCursor() == DispatchCursor.from_text("")


def test_settle_keeps_active_and_young_missing_runs_and_names_those_to_dispatch_again():
    runs = tuple(InFlight(key, (i,), 1000.0) for i, key in enumerate("abcde", start=1))
    cursor = DispatchCursor(seq=5, runs=runs)
    states = {"a": "active", "b": "succeeded", "c": "failed"}  # d, e: not in Dagster
    young, again = settle(cursor, states, now=1000.0 + 60, grace_s=120)
    assert [r.run_key for r in young.runs] == ["a", "d", "e"] and again == ("c",)
    old, again = settle(cursor, states, now=1000.0 + 121, grace_s=120)
    assert [r.run_key for r in old.runs] == ["a"] and again == ("c", "d", "e")
    assert old.seq == 5


def test_held_events_are_not_dispatched_and_run_keys_follow_the_dispatch_count(mapping):
    events = [_event(1), _event(2), _event(3)]
    held = DispatchCursor(seq=1, runs=(InFlight("first", (1, 3), NOW.timestamp()),))
    tick = plan_tick(events, mapping, cursor=held, now=NOW, window_s=0, max_batch=10)
    assert tick.batch is not None and tick.batch.event_ids == (2,)
    assert tick.run_key is not None and tick.run_key.endswith("-d2")
    assert tick.cursor.held == {1, 2, 3} and tick.cursor.seq == 2
    # The same tick again (the daemon retried it): the same key, so no second run.
    again = plan_tick(events, mapping, cursor=held, now=NOW, window_s=0, max_batch=10)
    assert again.run_key == tick.run_key
    # The same events after their run failed: a new key, so Dagster launches it.
    released, _ = settle(tick.cursor, {"first": "failed"}, now=NOW.timestamp(), grace_s=120)
    retry = plan_tick(
        [_event(1), _event(3)], mapping, cursor=released, now=NOW, window_s=0, max_batch=10
    )
    assert retry.batch is not None and retry.batch.event_ids == (1, 3)
    assert retry.run_key is not None and retry.run_key.endswith("-d3")


def test_runs_in_flight_are_bounded(mapping):
    full = DispatchCursor(seq=2, runs=(InFlight("a", (1,), 0.0), InFlight("b", (2,), 0.0)))
    tick = plan_tick(
        [_event(3)], mapping, cursor=full, now=NOW, window_s=0, max_batch=10, max_in_flight=2
    )
    assert tick.batch is None and tick.cursor == full
    assert tick.reason == "2 webhook runs in flight (at most 2)"
    waiting = plan_tick(
        [_event(3)], mapping, cursor=DispatchCursor(), now=NOW, window_s=3600, max_batch=10
    )
    assert waiting.batch is None and waiting.reason == "1 event(s) inside the window"
