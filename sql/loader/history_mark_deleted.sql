-- The final version of a soft-deleted row: deleted = true, and it stays open (valid_to
-- NULL) so that "the current version" of a deleted row says it is deleted. It carries
-- the last known data and hash. If the row comes back, this version is closed like any.
INSERT INTO {history} (account, id, valid_from, valid_to, deleted, row_hash, data, run_id)
SELECT account, id, now(), NULL, true, row_hash, data, %(run_id)s
FROM {table}
WHERE account = %(account)s AND id = ANY(%(ids)s)
