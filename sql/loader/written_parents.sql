-- The rows plan.sql classified as inserted or changed, as (id, data): the parents whose
-- child rows children_delete.sql and children_insert.sql rewrite.
(SELECT s.id, s.data
 FROM {plan} p
 JOIN {staging} s ON s.seq = p.seq
 WHERE p.action IN ('insert', 'update'))
