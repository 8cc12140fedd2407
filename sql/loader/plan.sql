-- Classify every staged item against the stored row, once, before anything is written.
--
-- Items may repeat across pages and passes: the last staged (highest seq) wins.
-- Order of the CASE matters: an equal hash on an active row is 'unchanged' without
-- looking into `data` (the common case of a nightly full scan); only changed rows pay for
-- extracting the incoming Muokattu for the freshness guard.
CREATE TEMP TABLE {plan} ON COMMIT DROP AS
WITH latest AS (
  SELECT max(seq) AS seq FROM {staging} GROUP BY id
)
SELECT s.id,
       s.seq,
       CASE
         WHEN t.id IS NULL THEN 'insert'
         WHEN t.row_hash = s.row_hash AND t.deleted_at IS NULL THEN 'unchanged'
         WHEN {incoming_changed} < {stored_changed} THEN 'stale'
         ELSE 'update'
       END AS action,
       t.missing_since IS NOT NULL AS was_missing
FROM latest l
JOIN {staging} s ON s.seq = l.seq
LEFT JOIN {table} t ON t.account = %(account)s AND t.id = s.id
