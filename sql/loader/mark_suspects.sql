-- A first complete scan missed these rows and nothing can confirm it: remember since when.
-- A second miss (missing_since already set) makes the caller delete them.
UPDATE {table}
SET missing_since = now()
WHERE account = %(account)s
  AND id = ANY(%(ids)s)
  AND missing_since IS NULL
  AND deleted_at IS NULL
