-- The row of one table the warehouse most recently marked deleted (a confirmed deletion):
-- the doctor asks the API's detail route about it, expecting 404.
-- {table} is an identifier from a code constant, never a value.
SELECT id, deleted_at
  FROM tampuuri.{table}
 WHERE account = :account
   AND deleted_at IS NOT NULL
 ORDER BY deleted_at DESC, id DESC
 LIMIT 1
