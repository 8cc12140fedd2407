-- Rows new to the table, written straight from {source} with their first history version:
-- no plan, no join with the stored rows. Used when none of the staged ids is stored (a
-- first load, checked under the table lock) and, in streaming mode, page by page.
--
-- Items may repeat across pages and drift re-passes: the last staged (highest seq) wins.
-- ON CONFLICT only ever meets a row THIS load wrote earlier (streaming mode starts only
-- when the account has no row in the table, and holds the table lock to commit): the row
-- and its open history version are overwritten in place, so it keeps one version, and
-- (xmax = 0) counts it as inserted once.
WITH written AS (
  INSERT INTO {table} AS t
    (account, id, {columns}, data, row_hash,
     first_seen_at, synced_at, changed_at, deleted_at, missing_since)
  SELECT DISTINCT ON (s.id) %(account)s, s.id, {values}, s.data, s.row_hash,
         now(), now(), now(), NULL, NULL
  FROM {source} s
  ORDER BY s.id, s.seq DESC
  ON CONFLICT (account, id) DO UPDATE SET
    {assignments},
    data = EXCLUDED.data,
    row_hash = EXCLUDED.row_hash
  RETURNING t.id, t.row_hash, t.data, (t.xmax = 0) AS inserted
), versions AS (
  INSERT INTO {history} AS h (account, id, valid_from, valid_to, deleted, row_hash, data, run_id)
  SELECT %(account)s, w.id, now(), NULL, false, w.row_hash, w.data, %(run_id)s
  FROM written w
  ON CONFLICT (account, id) WHERE valid_to IS NULL DO UPDATE SET
    row_hash = EXCLUDED.row_hash,
    data = EXCLUDED.data
)
SELECT count(*) FILTER (WHERE inserted) FROM written
