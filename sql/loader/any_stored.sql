-- Whether any staged id is already stored for the account: if not, every staged row is an
-- insert and insert_new.sql writes them without a plan.
SELECT EXISTS (
  SELECT 1
  FROM {staging} s
  JOIN {table} t ON t.account = %(account)s AND t.id = s.id
)
