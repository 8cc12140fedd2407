-- A child table (tables.ChildSpec): drop the child rows of every parent written by this
-- load (inserted, or its content changed), before children_insert.sql writes them again
-- from the parent's list. The parents are the rows (id, data) this load wrote.
-- Parents not written (unchanged, stale, soft-deleted) keep their children.
DELETE FROM {child} c
USING {parents} s
WHERE c.account = %(account)s
  AND c.parent_id = s.id
