"""The durable inbox: a bundle commits valid notifications once (redelivery adds no row),
dead-letters invalid ones, keeps unknown types with status unknown; pending_events,
mark_done and mark_failed (exponential backoff, then dead + a dead letter) against a real
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from pipelines.webhooks.inbox import (
    Backoff,
    inbox_summary,
    mark_done,
    mark_failed,
    mark_unknown,
    pending_events,
    requeue_unknown,
    store_bundle,
)

from .conftest import bundle, count, notification

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def test_store_then_redeliver_adds_nothing(engine, mapping):
    items = [notification(i) for i in range(1, 6)]
    first = store_bundle(engine, bundle(*items), mapping=mapping)
    again = store_bundle(engine, bundle(*items, attempts=2), mapping=mapping)
    assert (first.stored, first.duplicates, first.invalid) == (5, 0, 0)
    assert (again.stored, again.duplicates, again.invalid) == (0, 5, 0)
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 5
    assert count(engine, "SELECT sum(attempts_seen) FROM ops.webhook_inbox") == 10
    # an older attempt arriving late never lowers attempts_seen
    store_bundle(engine, bundle(*items, attempts=1), mapping=mapping)
    assert count(engine, "SELECT min(attempts_seen) FROM ops.webhook_inbox") == 2


def test_repeats_inside_one_bundle_count_as_duplicates(engine, mapping):
    result = store_bundle(engine, bundle(notification(1), notification(1), notification(2)))
    assert (result.stored, result.duplicates) == (2, 1)
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 2


def test_partial_invalid_bundle_keeps_valid_and_dead_letters_invalid(engine, mapping):
    result = store_bundle(
        engine,
        bundle(notification(1), notification(2, ReferenceId="x"), notification(3, Account="")),
        mapping=mapping,
    )
    assert (result.stored, result.duplicates, result.invalid) == (1, 0, 2)
    with engine.connect() as conn:
        letters = conn.execute(
            text("SELECT reason, payload FROM ops.webhook_dead_letters ORDER BY dead_letter_id")
        ).all()
    assert [reason.split(":")[0] for reason, _ in letters] == [
        "Notifications[1]",
        "Notifications[2]",
    ]
    assert '"ReferenceId":"x"' in letters[0].payload


def test_unknown_types_are_stored_as_unknown_and_reported(engine, mapping):
    store_bundle(
        engine,
        bundle(
            notification(1), notification(2, action="TuntematonTapahtuma"), notification(3, "X")
        ),
        mapping=mapping,
    )
    with engine.begin() as conn:
        summary = inbox_summary(conn)
        assert summary.by_status == {"pending": 1, "unknown": 2}
        assert summary.unknown_types == {"TuntematonTapahtuma": 1, "X": 1}
        assert summary.by_action[("KohderekisteriTietoMuokkaa", "pending")] == 1
        assert pending_events(conn, after_event_id=0, limit=10, now=FAR_FUTURE)[0].reference_id == 1
        # once the operator maps the type, the parked events become pending again
        assert requeue_unknown(conn, _with(mapping, "TuntematonTapahtuma")) == 1
        assert len(pending_events(conn, after_event_id=0, limit=10, now=FAR_FUTURE)) == 2


def _with(mapping, event_type):
    from pipelines.webhooks.events import EventMapping, EventRule

    rules = dict(mapping.rules)
    rules[event_type] = EventRule(event_type, "refresh", "kohteet")
    return EventMapping(rules)


def test_pending_events_cursor_limit_and_mark_done(engine, mapping):
    store_bundle(engine, bundle(*(notification(i) for i in range(1, 11))), mapping=mapping)
    with engine.begin() as conn:
        page = pending_events(conn, after_event_id=0, limit=4, now=FAR_FUTURE)
        assert len(page) == 4
        rest = pending_events(conn, after_event_id=page[-1].event_id, limit=100, now=FAR_FUTURE)
        assert len(rest) == 6
        assert mark_done(conn, [e.event_id for e in page], "run-1") == 4
        assert mark_done(conn, [e.event_id for e in page], "run-2") == 0  # already done
        assert mark_unknown(conn, [rest[0].event_id]) == 1
        assert len(pending_events(conn, after_event_id=0, limit=100, now=FAR_FUTURE)) == 5
        summary = inbox_summary(conn)
    assert summary.by_status == {"done": 4, "pending": 5, "unknown": 1}
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox WHERE run_id = 'run-1'") == 4


def test_mark_failed_backs_off_exponentially_then_dead_letters(engine, mapping):
    store_bundle(engine, bundle(notification(1), notification(2)), mapping=mapping)
    backoff = Backoff(initial_s=60, factor=2, max_s=100)
    now = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    with engine.begin() as conn:
        ids = [e.event_id for e in pending_events(conn, after_event_id=0, limit=10, now=now)]
        expected_delays = [60, 100]  # 60, then 120 capped at 100
        for delay in expected_delays:
            result = mark_failed(
                conn, ids, "HTTP 503 from kohteet", max_tries=3, backoff=backoff, now=now
            )
            assert (result.retrying, result.dead) == (2, 0)
            next_try = conn.execute(
                text("SELECT DISTINCT next_try_at FROM ops.webhook_inbox")
            ).scalar_one()
            assert next_try == now + timedelta(seconds=delay)
            # not due before next_try_at, due at it
            assert (
                pending_events(
                    conn, after_event_id=0, limit=10, now=next_try - timedelta(seconds=1)
                )
                == []
            )
            assert len(pending_events(conn, after_event_id=0, limit=10, now=next_try)) == 2
            now = next_try
        result = mark_failed(
            conn, ids, "HTTP 503 from kohteet", max_tries=3, backoff=backoff, now=now
        )
        assert (result.retrying, result.dead) == (0, 2)
        assert pending_events(conn, after_event_id=0, limit=10, now=FAR_FUTURE) == []
        letters = conn.execute(
            text("SELECT event_id, reason FROM ops.webhook_dead_letters ORDER BY event_id")
        ).all()
        summary = inbox_summary(conn)
    assert [event_id for event_id, _ in letters] == ids
    assert letters[0].reason == "failed 3 times: HTTP 503 from kohteet"
    assert summary.by_status == {"dead": 2}
    assert summary.dead_letters == 2
    assert count(engine, "SELECT max(tries) FROM ops.webhook_inbox") == 3
