-- Close the open version of every row about to get a new one. Runs before the new
-- versions are inserted: the partial unique index allows one open version per row.
UPDATE {history} h
SET valid_to = now()
FROM {plan} p
WHERE p.action IN ('insert', 'update')
  AND h.account = %(account)s
  AND h.id = p.id
  AND h.valid_to IS NULL
