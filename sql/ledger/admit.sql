-- Calls about to be sent, written before their requests leave: status and duration stay
-- NULL until the answer (settle.sql). One statement per admission batch (autocommit).
INSERT INTO ops.api_calls (call_id, account, sent_at, method, route, trigger, run_id)
SELECT *
  FROM unnest(%(call_ids)s::bigint[], %(accounts)s::text[], %(sent_at)s::timestamptz[],
              %(methods)s::text[], %(routes)s::text[], %(triggers)s::text[],
              %(run_ids)s::text[])
