-- The last staged copy (highest seq) of each staged id: items may repeat across pages and
-- drift re-passes. insert_new_*.sql read this instead of staging when staging may hold an
-- id twice (id_spans.repeat_free).
(SELECT DISTINCT ON (id) * FROM {staging} ORDER BY id, seq DESC)
