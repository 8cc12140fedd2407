"""SQL of the webhook inbox (ops.webhook_inbox, ops.webhook_dead_letters), bound parameters only."""

from __future__ import annotations

from sqlalchemy import text

INSERT_EVENTS = text(
    """
    INSERT INTO ops.webhook_inbox AS i
      (dedup_key, account, action, reference_id, reference_secondary_id, reference_data,
       reference_json, event_timestamp, status, attempts_seen)
    SELECT u.*, CAST(:attempts AS integer)
    FROM unnest(CAST(:keys AS text[]), CAST(:accounts AS text[]), CAST(:actions AS text[]),
                CAST(:ids AS bigint[]), CAST(:secondary_ids AS bigint[]),
                CAST(:data AS text[]), CAST(:json AS text[]),
                CAST(:timestamps AS timestamptz[]), CAST(:statuses AS text[])) AS u
    ON CONFLICT (dedup_key) DO UPDATE SET attempts_seen = EXCLUDED.attempts_seen
      WHERE EXCLUDED.attempts_seen > i.attempts_seen
    RETURNING (i.xmax = 0) AS inserted
    """
)
INSERT_DEAD_LETTER = text(
    "INSERT INTO ops.webhook_dead_letters (reason, payload, event_id)"
    " VALUES (:reason, :payload, :event_id)"
)
EVENT_COLUMNS = (
    "event_id, account, action, reference_id, reference_secondary_id, reference_data,"
    " reference_json, event_timestamp, received_at, attempts_seen, status, tries"
)
_DUE = " status IN ('pending', 'failed') AND (next_try_at IS NULL OR next_try_at <= :now)"
# Events held by runs still in flight are excluded here, not after the LIMIT: otherwise
# a long list of them ahead would hide every event behind it.
PENDING = text(
    f"SELECT {EVENT_COLUMNS} FROM ops.webhook_inbox WHERE{_DUE}"
    " AND event_id > :after AND NOT (event_id = ANY(CAST(:exclude AS bigint[])))"
    " ORDER BY event_id LIMIT :limit"
)
# A run reads exactly the events it was given (those still due), however many others
# are due or failing ahead of them.
DUE_BY_ID = text(
    f"SELECT {EVENT_COLUMNS} FROM ops.webhook_inbox WHERE{_DUE}"
    " AND event_id = ANY(CAST(:ids AS bigint[])) ORDER BY event_id"
)
MARK_DONE = text(
    "UPDATE ops.webhook_inbox SET status = 'done', run_id = :run_id, processed_at = now(),"
    " error = NULL, next_try_at = NULL"
    " WHERE event_id = ANY(:ids) AND status IN ('pending', 'failed')"
)
MARK_UNKNOWN = text(
    "UPDATE ops.webhook_inbox SET status = 'unknown'"
    " WHERE event_id = ANY(:ids) AND status IN ('pending', 'failed')"
)
REQUEUE_UNKNOWN = text(
    "UPDATE ops.webhook_inbox SET status = 'pending'"
    " WHERE status = 'unknown' AND lower(action) = ANY(:actions)"
)
# Exponential backoff computed from the tries before this failure: initial, initial*factor,
# ... capped. The last allowed failure turns the event dead and copies it to the dead
# letters, in the same statement so the two can never disagree.
MARK_FAILED = text(
    """
    WITH failed AS (
      UPDATE ops.webhook_inbox
      SET tries = tries + 1,
          error = :error,
          status = CASE WHEN tries + 1 >= :max_tries THEN 'dead' ELSE 'failed' END,
          processed_at = CASE WHEN tries + 1 >= :max_tries THEN :now END,
          next_try_at = CASE WHEN tries + 1 >= :max_tries THEN NULL ELSE
            CAST(:now AS timestamptz) + make_interval(
              secs => LEAST(:initial_s * power(:factor, tries), :max_s)) END
      WHERE event_id = ANY(:ids) AND status IN ('pending', 'failed')
      RETURNING event_id, status, account, action, reference_id, reference_secondary_id,
                reference_data, reference_json, event_timestamp, tries
    ), dead AS (
      INSERT INTO ops.webhook_dead_letters (reason, payload, event_id)
      SELECT 'failed ' || tries || ' times: ' || :error,
             json_build_object('Action', action, 'Account', account,
                               'ReferenceId', reference_id,
                               'ReferenceSecondaryId', reference_secondary_id,
                               'ReferenceData', reference_data, 'ReferenceJson', reference_json,
                               'Timestamp', event_timestamp)::text,
             event_id
      FROM failed WHERE status = 'dead'
      RETURNING event_id
    )
    SELECT (SELECT count(*) FROM failed) - (SELECT count(*) FROM dead), (SELECT count(*) FROM dead)
    """
)
# The inbox's counts (inbox_summary.py).
BY_ACTION = text("SELECT action, status, count(*) FROM ops.webhook_inbox GROUP BY action, status")
DEAD_LETTERS = text("SELECT count(*) FROM ops.webhook_dead_letters")
OLDEST_DUE = text(
    "SELECT min(received_at) FROM ops.webhook_inbox WHERE status IN ('pending', 'failed')"
)
