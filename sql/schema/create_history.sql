-- A mirrored table's history, exactly as migration 0001 makes them: one row per version,
-- the open version has valid_to NULL (one per row: the partial unique index).
CREATE TABLE IF NOT EXISTS {history} (
  account     text        NOT NULL,
  id          bigint      NOT NULL,
  valid_from  timestamptz NOT NULL,
  valid_to    timestamptz,
  deleted     boolean     NOT NULL DEFAULT false,
  row_hash    text        NOT NULL,
  data        jsonb       NOT NULL,
  run_id      text
);
CREATE INDEX IF NOT EXISTS {key_idx} ON {history} (account, id, valid_from);
CREATE UNIQUE INDEX IF NOT EXISTS {open_idx} ON {history} (account, id) WHERE valid_to IS NULL
