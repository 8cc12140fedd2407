-- Ids of one table the warehouse holds as active: real ids for the batch route's limit probe.
-- {table} is an identifier from a code constant, never a value.
SELECT id
  FROM tampuuri.{table}
 WHERE account = :account
   AND deleted_at IS NULL
 ORDER BY id
 LIMIT :count
