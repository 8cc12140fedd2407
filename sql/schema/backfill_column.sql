-- Fill a column just added from what the rows already hold in `data` (the
-- loader's own extraction, tables.typed_expression). Rows without a value are not
-- rewritten; row_hash and data stay as they are.
UPDATE {table} AS {alias}
SET {column} = {value}
WHERE {value} IS NOT NULL
