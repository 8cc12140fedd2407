-- Rows new to the table, written straight from staging: no plan, no join with the stored
-- rows. Used when none of the staged ids is stored (a first load, checked under the table
-- lock) and, in streaming mode, a few pages at a time; insert_new_versions.sql then writes
-- their first history versions from the same staging rows.
--
-- Items may repeat across pages and drift re-passes: the source is then latest_staged.sql
-- (the last staged copy of each id); else, staging holding no id twice, staging itself.
-- The conflict clause at the end is empty when no staged id is stored (plain inserts, the
-- statement's row count is the count inserted); else it is overwrite_row.sql, for a
-- streaming load meeting rows it wrote itself earlier, with a RETURNING that tells
-- inserted rows from overwritten ones.
--
-- Two statements rather than one with a RETURNING of every row into the history insert:
-- measured on 10,000 links, 170 -> about 125 ms (the RETURNING's tuple store is skipped).
INSERT INTO {table} AS t
  (account, id, {columns}, data, row_hash,
   first_seen_at, synced_at, changed_at, deleted_at, missing_since)
SELECT %(account)s, s.id, {values}, s.data, s.row_hash, now(), now(), now(), NULL, NULL
FROM {source} s
{row_conflict}
