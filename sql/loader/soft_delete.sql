-- Soft-delete confirmed rows (in this account, still active); returns the ids it deleted.
-- Followed by history_close_ids.sql and history_mark_deleted.sql, in that order.
UPDATE {table}
SET deleted_at = now()
WHERE account = %(account)s AND id = ANY(%(ids)s) AND deleted_at IS NULL
RETURNING id
