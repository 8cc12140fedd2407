-- The new open version of every inserted or updated row.
INSERT INTO {history} (account, id, valid_from, valid_to, deleted, row_hash, data, run_id)
SELECT %(account)s, s.id, now(), NULL, false, s.row_hash, s.data, %(run_id)s
FROM {plan} p
JOIN {staging} s ON s.seq = p.seq
WHERE p.action IN ('insert', 'update')
