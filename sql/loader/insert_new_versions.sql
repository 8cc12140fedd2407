-- The first history version of each row insert_new_rows.sql wrote (from the same source:
-- staging, or its last staged copy of each id; now() is the transaction's time, so valid_from
-- equals the rows' first_seen_at). The conflict clause is empty, or overwrite_version.sql
-- when the rows statement overwrote rows of this same load.
INSERT INTO {history} AS h (account, id, valid_from, valid_to, deleted, row_hash, data, run_id)
SELECT %(account)s, s.id, now(), NULL, false, s.row_hash, s.data, %(run_id)s
FROM {source} s
{version_conflict}
