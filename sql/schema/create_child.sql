-- A child table (tables.ChildSpec): one row per element of a list inside each parent item.
-- ordinal is the element's position (0 first), data the element verbatim; the typed
-- columns (each "name type,") come from the element when it is an object.
-- Written by the loader with the parent (sql/loader/children_*.sql).
CREATE TABLE IF NOT EXISTS {table} (
  account    text    NOT NULL,
  parent_id  bigint  NOT NULL,
  ordinal    integer NOT NULL,
  {columns}
  data       jsonb   NOT NULL,
  PRIMARY KEY (account, parent_id, ordinal)
)
