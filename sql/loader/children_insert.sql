-- A child table's rows from each written parent's list: one row per element, ordinal its
-- position in the list (0 first: data->'<field>'->ordinal is the element), data the element
-- verbatim, typed columns from the element when it is a JSON object (else NULL). A field
-- that is missing or not a list gives no rows. The column and value lists end with a comma
-- each (a child table may have no typed columns).
INSERT INTO {child} (account, parent_id, ordinal, {columns} data)
SELECT %(account)s, s.id, e.ordinal - 1, {values} e.data
FROM {parents} s
CROSS JOIN LATERAL jsonb_array_elements(
  CASE WHEN jsonb_typeof({list}) = 'array' THEN {list} ELSE '[]'::jsonb END
) WITH ORDINALITY AS e (data, ordinal)
