-- A declared index (TableSpec.indexes): (account, <columns>). Created only when no index
-- on the same columns exists under any name (schema_sync checks pg_index by columns).
CREATE INDEX IF NOT EXISTS {name} ON {table} (account, {columns})
