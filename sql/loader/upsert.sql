-- The one set-based upsert: new rows and rows whose content changed (or that come back
-- after a soft delete). Unchanged and stale rows are not in the plan's write set, so
-- they are never rewritten. (xmax = 0) tells a fresh insert from a conflict update.
WITH written AS (
  INSERT INTO {table} AS t
    (account, id, {columns}, data, row_hash,
     first_seen_at, synced_at, changed_at, deleted_at, missing_since)
  SELECT %(account)s, s.id, {values}, s.data, s.row_hash,
         now(), now(), now(), NULL, NULL
  FROM {plan} p
  JOIN {staging} s ON s.seq = p.seq
  WHERE p.action IN ('insert', 'update')
  ON CONFLICT (account, id) DO UPDATE SET
    {assignments},
    data = EXCLUDED.data,
    row_hash = EXCLUDED.row_hash,
    synced_at = now(),
    changed_at = now(),
    deleted_at = NULL,
    missing_since = NULL
  RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted) AS inserted,
       count(*) FILTER (WHERE NOT inserted) AS updated
FROM written
