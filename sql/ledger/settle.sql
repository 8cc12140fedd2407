-- Answers of admitted calls (status NULL with a duration: no response came), and the
-- records of calls that were admitted but cancelled before being sent. One statement.
WITH answered AS (
  UPDATE ops.api_calls AS c
     SET status = a.status, duration_ms = a.duration_ms
    FROM unnest(%(call_ids)s::bigint[], %(statuses)s::integer[], %(durations)s::integer[])
         AS a (call_id, status, duration_ms)
   WHERE c.call_id = a.call_id
  RETURNING 1
)
DELETE FROM ops.api_calls WHERE call_id = ANY (%(retracted)s::bigint[])
