-- The plain indexes of the given tables (no expression, no predicate), each as its key
-- columns in order: an index declared on the same columns exists under whatever name.
SELECT c.relname, array_agg(a.attname::text ORDER BY k.ord)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE n.nspname = %(schema)s
  AND c.relname = ANY(%(tables)s)
  AND i.indpred IS NULL
  AND i.indexprs IS NULL
  AND k.ord <= i.indnkeyatts
GROUP BY c.relname, i.indexrelid
