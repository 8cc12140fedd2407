-- The call ledger is written ahead: a call's row is committed before its request is sent,
-- and its answer (status, duration) is filled in afterwards. A process killed in between
-- leaves the row without an answer, so a call is never missing from the count.
--   duration_ms NULL                 sent, no answer recorded (the process ended first)
--   status NULL, duration_ms set     no response came (timeout, connection reset)
ALTER TABLE ops.api_calls ALTER COLUMN duration_ms DROP NOT NULL;
COMMENT ON COLUMN ops.api_calls.status IS
  'HTTP status; NULL: no response (duration_ms set) or no answer recorded (duration_ms NULL)';
COMMENT ON COLUMN ops.api_calls.duration_ms IS
  'Until the response headers or the failure; NULL: sent, no answer recorded';
