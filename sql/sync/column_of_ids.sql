-- Some rows' {column}: the scope-filter values of rows a complete scan missed, for their
-- scoped re-scan. Identifiers from a TableSpec only.
SELECT id, {column}
  FROM tampuuri.{table}
 WHERE account = :account
   AND id = ANY(:ids)
