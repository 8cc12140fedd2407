-- insert_new_rows.sql for a streaming load whose staged ids include rows it wrote earlier (a
-- drift re-pass): only ever its own rows (streaming starts only when the account has no
-- row in the table, and holds the table lock to commit). Overwritten in place, and
-- (xmax = 0) counts each row as inserted once.
ON CONFLICT (account, id) DO UPDATE SET
  {assignments},
  data = EXCLUDED.data,
  row_hash = EXCLUDED.row_hash
