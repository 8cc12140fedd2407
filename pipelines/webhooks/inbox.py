"""The durable webhook inbox (ops.webhook_inbox) and its dead letters.

The receiver commits every bundle here, in one transaction, before it answers 2xx: an
acknowledged notification is never lost. Redelivered bundles (Tampuuri tries a bundle up
to 5 times, `Attempts`) hit the unique dedup key and add no row; only `attempts_seen`
records the highest attempt seen.

Statuses: pending (to process), done, failed (will be retried at next_try_at), dead
(retries exhausted, also written to the dead letters), unknown (an event type
config/events.yaml does not map: kept and reported, never dropped).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, IntegrityError

from pipelines.tampuuri import json_codec
from pipelines.webhooks import inbox_sql as sql
from pipelines.webhooks.events import EventMapping, load_event_mapping

# Re-exported: the counts for the CLI and the UI live in inbox_summary.py.
from pipelines.webhooks.inbox_summary import InboxSummary, inbox_summary  # noqa: F401
from pipelines.webhooks.notification import Notification, ParsedBundle, parse_bundle

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class StoreResult:
    """What one bundle did to the inbox (the receiver's 200 body)."""

    stored: int
    duplicates: int
    invalid: int


@dataclass(frozen=True)
class InboxEvent:
    """One stored notification as the planner and the refresher see it."""

    event_id: int
    account: str
    action: str
    reference_id: int
    reference_secondary_id: int | None
    received_at: datetime
    event_timestamp: datetime | None = None
    reference_data: str | None = None
    reference_json: str | None = None
    attempts_seen: int = 1
    status: str = "pending"
    tries: int = 0


@dataclass(frozen=True)
class Backoff:
    """Retry delays of a failed event: initial_s * factor**tries, at most max_s."""

    initial_s: float = 60.0
    factor: float = 2.0
    max_s: float = 3600.0

    def delay_s(self, tries_before: int) -> float:
        return min(self.initial_s * self.factor**tries_before, self.max_s)


@dataclass(frozen=True)
class FailResult:
    retrying: int
    dead: int


@lru_cache(maxsize=1)
def _default_mapping() -> EventMapping:
    return load_event_mapping()


def store_bundle(
    engine: Engine, bundle: object, *, mapping: EventMapping | None = None
) -> StoreResult:
    """Commit one bundle: valid notifications to the inbox, invalid ones to dead letters.

    Everything happens in one transaction, so the caller may acknowledge the delivery
    once this returns. Types the mapping does not know are stored with status `unknown`.
    A notification the warehouse refuses (a data error) is dead-lettered with the
    driver's reason and its siblings are stored; only an unreachable warehouse raises.

    Args:
        engine: the warehouse.
        bundle: the decoded JSON body, or an already parsed bundle.
        mapping: event types -> rules; config/events.yaml by default.

    Raises:
        BundleError: `bundle` is not a bundle (nothing is written).
        SQLAlchemyError: the warehouse is unavailable (nothing is written).
    """
    parsed = bundle if isinstance(bundle, ParsedBundle) else parse_bundle(bundle)
    rules = mapping or _default_mapping()
    # One row per key (a bundle may repeat a notification: ON CONFLICT cannot touch a row
    # twice in one statement), sorted so concurrent bundles lock keys in the same order.
    unique = sorted({n.dedup_key: n for n in parsed.valid}.values(), key=lambda n: n.dedup_key)
    dead = [(i.reason, i.payload) for i in parsed.invalid]
    try:
        with engine.begin() as conn:
            inserted = _insert(conn, unique, parsed.attempts, rules)
            _dead_letter(conn, dead)
    except (DataError, IntegrityError):
        # A value validation did not foresee and the warehouse refuses: find which
        # notification it was, one savepoint each, and dead-letter only that one.
        inserted, refused = _insert_one_by_one(engine, unique, parsed.attempts, rules, dead)
        dead += refused
    return StoreResult(
        stored=inserted,
        duplicates=len(parsed.valid) - inserted - (len(dead) - len(parsed.invalid)),
        invalid=len(dead),
    )


def _insert(
    conn: Connection, unique: Sequence[Notification], attempts: int, rules: EventMapping
) -> int:
    if not unique:
        return 0
    rows = conn.execute(
        sql.INSERT_EVENTS,
        {
            "attempts": attempts,
            "keys": [n.dedup_key for n in unique],
            "accounts": [n.account for n in unique],
            "actions": [n.action for n in unique],
            "ids": [n.reference_id for n in unique],
            "secondary_ids": [n.reference_secondary_id for n in unique],
            "data": [n.reference_data for n in unique],
            "json": [n.reference_json for n in unique],
            "timestamps": [n.event_timestamp for n in unique],
            "statuses": ["pending" if rules.is_known(n.action) else "unknown" for n in unique],
        },
    ).all()
    return sum(1 for (was_inserted,) in rows if was_inserted)


def _dead_letter(conn: Connection, dead: Sequence[tuple[str, str]]) -> None:
    if dead:
        rows = [
            {"reason": reason, "payload": payload, "event_id": None} for reason, payload in dead
        ]
        conn.execute(sql.INSERT_DEAD_LETTER, rows)


def _insert_one_by_one(
    engine: Engine,
    unique: Sequence[Notification],
    attempts: int,
    rules: EventMapping,
    dead: Sequence[tuple[str, str]],
) -> tuple[int, list[tuple[str, str]]]:
    inserted = 0
    refused: list[tuple[str, str]] = []
    with engine.begin() as conn:
        for notification in unique:
            try:
                with conn.begin_nested():
                    inserted += _insert(conn, [notification], attempts, rules)
            except (DataError, IntegrityError) as exc:
                reason = f"the warehouse refused it: {driver_message(exc)}"
                refused.append((reason, _fields_json(notification)))
        _dead_letter(conn, [*dead, *refused])
    return inserted, refused


def driver_message(exc: Exception) -> str:
    """The driver's first line (no SQL, no parameters)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0][:200] if lines else ''}"


def _fields_json(n: Notification) -> str:
    fields = {
        "Action": n.action,
        "Account": n.account,
        "ReferenceId": n.reference_id,
        "ReferenceSecondaryId": n.reference_secondary_id,
        "ReferenceData": n.reference_data,
        "ReferenceJson": n.reference_json,
        "Timestamp": n.event_timestamp.isoformat() if n.event_timestamp else None,
    }
    return json_codec.encode(fields).decode()


def pending_events(
    conn: Connection,
    *,
    limit: int,
    now: datetime,
    after_event_id: int = 0,
    exclude: Iterable[int] = (),
) -> list[InboxEvent]:
    """Events to process, oldest first: pending, or failed and due again (next_try_at <= now).

    Status decides what is due (done events are never pending). `exclude` holds the
    events of runs still in flight (the sensor's cursor), which must not be dispatched
    twice; they are left out before the limit applies.
    """
    params = {"after": after_event_id, "now": now, "limit": limit, "exclude": sorted(exclude)}
    return [InboxEvent(**row._mapping) for row in conn.execute(sql.PENDING, params)]


def due_events(conn: Connection, event_ids: Iterable[int], *, now: datetime) -> list[InboxEvent]:
    """The given events that are still due (pending, or failed and due again), by id."""
    rows = conn.execute(sql.DUE_BY_ID, {"ids": sorted(set(event_ids)), "now": now})
    return [InboxEvent(**row._mapping) for row in rows]


def mark_done(conn: Connection, event_ids: Iterable[int], run_id: str | None) -> int:
    """Mark events processed by a run. Returns how many changed."""
    result = conn.execute(sql.MARK_DONE, {"ids": list(event_ids), "run_id": run_id})
    return result.rowcount


def mark_unknown(conn: Connection, event_ids: Iterable[int]) -> int:
    """Park events whose type the current mapping does not know (status unknown)."""
    return conn.execute(sql.MARK_UNKNOWN, {"ids": list(event_ids)}).rowcount


def requeue_unknown(conn: Connection, mapping: EventMapping) -> int:
    """Make unknown events pending again once config/events.yaml maps their type."""
    actions = [name.casefold() for name in mapping.rules]
    return conn.execute(sql.REQUEUE_UNKNOWN, {"actions": actions}).rowcount


def mark_failed(
    conn: Connection,
    event_ids: Sequence[int],
    error: str,
    *,
    max_tries: int,
    backoff: Backoff,
    now: datetime | None = None,
) -> FailResult:
    """Count a failed processing attempt; schedule a retry, or give up after max_tries.

    The caller must pass an error text free of secrets (an exception's str() from the
    client is; see pipelines/tampuuri/errors.py).

    Args:
        conn: a connection in a transaction.
        event_ids: the events of the failed batch.
        error: what went wrong (truncated to MAX_ERROR_CHARS).
        max_tries: failures after which an event is dead (and dead-lettered).
        backoff: delay before the next try, from the tries so far.
        now: the clock (tests); the database's now() by default.
    """
    if max_tries < 1:
        raise ValueError("max_tries must be at least 1")
    clock = now or conn.execute(text("SELECT now()")).scalar_one()
    retrying, dead = conn.execute(
        sql.MARK_FAILED,
        {
            "ids": list(event_ids),
            "error": error[:MAX_ERROR_CHARS],
            "max_tries": max_tries,
            "now": clock,
            "initial_s": backoff.initial_s,
            "factor": backoff.factor,
            "max_s": backoff.max_s,
        },
    ).one()
    return FailResult(retrying=int(retrying), dead=int(dead))
