-- Active ids of one mirrored table whose {column} is one of :values, ascending: the rows of
-- an account's scope (objects under its cost centres). Identifiers from a TableSpec only.
SELECT id
  FROM tampuuri.{table}
 WHERE account = :account
   AND deleted_at IS NULL
   AND {column} = ANY(:values)
 ORDER BY id
