-- Ids with more than one open history version (valid_to NULL); {table} is a declared
-- table's name, never a value.
SELECT id, count(*) AS versions
  FROM tampuuri.{table}_history
 WHERE account = :account AND valid_to IS NULL
 GROUP BY id
HAVING count(*) > 1
 ORDER BY id
 LIMIT :shown
