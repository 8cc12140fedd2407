-- Active ids of one mirrored table, ascending (a fan-out's parent rows, a sweep's scopes).
-- {table} is an identifier from a TableSpec (pipelines/sync/sync_sql.py), never a value.
SELECT id
  FROM tampuuri.{table}
 WHERE account = :account
   AND deleted_at IS NULL
 ORDER BY id
