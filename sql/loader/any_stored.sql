-- Whether any staged id is already stored for the account: if not, every staged row is an
-- insert and insert_new_*.sql write them without a plan. One primary-key probe per staged
-- row, stopping at the first hit: written as LATERAL ... LIMIT 1 so that the planner, which
-- has no statistics for a freshly loaded table, cannot turn it into a nested loop over
-- both tables (millions of comparisons for a few thousand rows).
SELECT EXISTS (
  SELECT 1
  FROM {staging} s
  CROSS JOIN LATERAL (
    SELECT 1 FROM {table} t WHERE t.account = %(account)s AND t.id = s.id LIMIT 1
  ) stored
)
