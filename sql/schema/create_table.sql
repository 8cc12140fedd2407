-- A mirrored table derived from its TableSpec (pipelines/warehouse/schema_sync.py): the
-- common columns exactly as migration 0001 has them, the typed columns in declared order
-- in between (each "name type,"). Typed columns are filled by the loader
-- (tables.typed_expression); `data` is the item verbatim.
CREATE TABLE IF NOT EXISTS {table} (
  account          text        NOT NULL,
  id               bigint      NOT NULL,
  {columns}
  data             jsonb       NOT NULL,
  row_hash         text        NOT NULL,
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  synced_at        timestamptz NOT NULL DEFAULT now(),
  changed_at       timestamptz NOT NULL DEFAULT now(),
  deleted_at       timestamptz,
  missing_since    timestamptz,
  PRIMARY KEY (account, id)
)
