-- Declared type names normalised: their oid and PostgreSQL's own name for them
-- (timestamptz is timestamp with time zone, int4 is integer).
SELECT t, t::regtype::oid, format_type(t::regtype, NULL)
FROM unnest(%(types)s::text[]) AS t
