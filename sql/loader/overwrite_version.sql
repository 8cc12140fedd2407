-- With overwrite_row.sql: the row's open history version, written by this same load, is
-- overwritten in place too, so a row repeated by a drift re-pass keeps ONE version.
ON CONFLICT (account, id) WHERE valid_to IS NULL DO UPDATE SET
  row_hash = EXCLUDED.row_hash,
  data = EXCLUDED.data
