-- Rows seen again (unchanged or stale) are no longer deletion candidates. The only write
-- an unchanged row ever gets, and only when missing_since was set.
UPDATE {table} t
SET missing_since = NULL
FROM {plan} p
WHERE p.was_missing
  AND p.action IN ('unchanged', 'stale')
  AND t.account = %(account)s
  AND t.id = p.id
