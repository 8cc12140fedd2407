-- The newest id a mirrored table ever stored for an account and its active rows: where a
-- read of an ordered list's end starts (webhook refresh of new rows). {table} is an
-- identifier from a TableSpec, never a value.
SELECT max(id), count(*) FILTER (WHERE deleted_at IS NULL)
  FROM tampuuri.{table}
 WHERE account = :account
