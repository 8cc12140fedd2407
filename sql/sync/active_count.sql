-- How many active rows one mirrored table holds for an account (against the API's Total).
-- {table} is an identifier from a TableSpec, never a value.
SELECT count(*)
  FROM tampuuri.{table}
 WHERE account = :account
   AND deleted_at IS NULL
