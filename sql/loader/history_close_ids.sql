-- Close the open version of the given rows (before a new one is inserted: the partial
-- unique index allows one open version per row).
UPDATE {history}
SET valid_to = now()
WHERE account = %(account)s AND id = ANY(%(ids)s) AND valid_to IS NULL
