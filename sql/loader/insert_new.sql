-- Rows new to the table, written straight from staging with their first history version:
-- no plan, no join with the stored rows. Used when none of the staged ids is stored (a
-- first load, checked under the table lock) and, in streaming mode, a few pages at a time.
--
-- Items may repeat across pages and drift re-passes: the last staged (highest seq) wins
-- within staging. The two conflict clauses are empty when no staged id is stored (checked
-- first: plain inserts are cheaper); else they are overwrite_row.sql and
-- overwrite_version.sql, for a streaming load meeting rows it wrote itself earlier.
WITH written AS (
  INSERT INTO {table} AS t
    (account, id, {columns}, data, row_hash,
     first_seen_at, synced_at, changed_at, deleted_at, missing_since)
  SELECT DISTINCT ON (s.id) %(account)s, s.id, {values}, s.data, s.row_hash,
         now(), now(), now(), NULL, NULL
  FROM {source} s
  ORDER BY s.id, s.seq DESC
  {row_conflict}
  RETURNING t.id, t.row_hash, t.data, (t.xmax = 0) AS inserted
), versions AS (
  INSERT INTO {history} AS h (account, id, valid_from, valid_to, deleted, row_hash, data, run_id)
  SELECT %(account)s, w.id, now(), NULL, false, w.row_hash, w.data, %(run_id)s
  FROM written w
  {version_conflict}
)
SELECT count(*) FILTER (WHERE inserted) FROM written
