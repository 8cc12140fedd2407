-- Active rows in the scope that a complete scan did not see (deletion candidates).
SELECT t.id, t.missing_since
FROM {table} t
WHERE t.account = %(account)s
  AND t.deleted_at IS NULL
  {scope_filter}
  AND NOT EXISTS (SELECT 1 FROM {staging} s WHERE s.id = t.id)
ORDER BY t.id
