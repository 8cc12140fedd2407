-- Active ids of one mirrored table, ascending, each with its {column} (or NULL): a drift
-- search's known rows and their scope-filter values. Identifiers from a TableSpec only.
SELECT id, {column}
  FROM tampuuri.{table}
 WHERE account = :account
   AND deleted_at IS NULL
 ORDER BY id
