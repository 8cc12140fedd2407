"""The mirrored tables: which typed columns each has and how to extract them from an item.

The tables themselves are declared in config/resources/ (`pipelines.declarations`);
`TABLES` is their TableSpecs.

Every table keeps the item verbatim in `data`; the typed columns are a convenience for BI
users, extracted in SQL from `data` with the lenient `ops.to_*` casts of migration 0001 (a
value in an unexpected shape becomes NULL, the item itself is kept). These specs are the
only source of identifiers the loader puts into SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from psycopg import sql

from pipelines.declarations.table_spec import CAST_FUNCTIONS, Cast, ChildSpec, Column, TableSpec

# The table model lives with the declarations that fill it (a one-way import); it is
# re-exported here, where the loader and the SQL builders take it from.
__all__ = [
    "CAST_FUNCTIONS",
    "TABLES",
    "Cast",
    "ChildSpec",
    "Column",
    "TableSpec",
    "freshness_expressions",
    "typed_expression",
]


# How each cast reads a value: the JSON shapes every item has take a short path on the
# jsonb value itself ({j}); anything else goes to 0001's lenient cast of its text
# ({lenient}), and every path gives exactly what that cast gives (a JSON number's text is
# its numeric's text: digits, a sign, a point; no exponent, no spaces). The lenient casts
# alone, regular expressions and a function call per value, cost ~1.5-5 us a value: the
# bulk of a first load's database time for links and objects.
_TYPED_SQL: dict[Cast, str] = {
    "numeric": "CASE WHEN jsonb_typeof({j}) = 'number' THEN ({j})::numeric ELSE {lenient} END",
    "bigint": (
        "CASE WHEN jsonb_typeof({j}) = 'number' THEN CASE WHEN scale(({j})::numeric) = 0"
        " AND abs(({j})::numeric) < 1e18 THEN ({j})::bigint END ELSE {lenient} END"
    ),
    # 0001 has no to_integer: a value out of integer range becomes NULL, not an error.
    "integer": (
        "CASE WHEN jsonb_typeof({j}) = 'number' THEN CASE WHEN scale(({j})::numeric) = 0"
        " AND ({j})::numeric BETWEEN -2147483648 AND 2147483647 THEN ({j})::integer END"
        " WHEN {lenient} BETWEEN -2147483648 AND 2147483647 THEN ({lenient})::integer END"
    ),
    "boolean": "CASE WHEN jsonb_typeof({j}) = 'boolean' THEN ({j})::boolean ELSE {lenient} END",
    # Only a string can match the date and time patterns: JSON null and numbers skip them.
    "date": "CASE WHEN jsonb_typeof({j}) = 'string' THEN {lenient} END",
    "timestamptz": "CASE WHEN jsonb_typeof({j}) = 'string' THEN {lenient} END",
}


def typed_expression(
    column: Column, source: str = "s", *, fan_out_id: int | None = None
) -> sql.Composable:
    """SQL extracting `column` from `<source>.data`: the one place typed values come from.

    Equal, value for value, to migration 0001's lenient cast of the field's text (a value
    in an unexpected shape becomes NULL), only faster for the common JSON shapes. A
    `fan_out` column takes `fan_out_id`, the id its scan's list was called for (NULL
    outside such a scan). A dotted field (`Osapuoli.Nimi`) reads a nested value.
    """
    if column.source == "fan_out":
        return sql.SQL("{}::{}").format(sql.Literal(fan_out_id), sql.SQL(column.cast))
    data = sql.Identifier(source)
    parts = column.field.split(".")
    if len(parts) == 1:
        field = sql.Literal(column.field)
        raw = sql.SQL("{}.data->>{}").format(data, field)
        value = sql.SQL("{}.data->{}").format(data, field)
    else:
        path = sql.Literal(parts)
        raw = sql.SQL("{}.data#>>{}").format(data, path)
        value = sql.SQL("{}.data#>{}").format(data, path)
    function = CAST_FUNCTIONS[column.cast]
    if function is None:
        return raw
    lenient = sql.SQL("ops.{}({})").format(sql.Identifier(function), raw)
    return sql.SQL(_TYPED_SQL[column.cast]).format(j=value, lenient=lenient)


def freshness_expressions(spec: TableSpec) -> dict[str, sql.Composable]:
    """The incoming and stored change times the freshness guard compares.

    Without a change column both are NULL: the comparison is never true, nothing is stale.
    """
    if spec.changed_column is None:
        null = sql.SQL("NULL::timestamptz")
        return {"incoming_changed": null, "stored_changed": null}
    column = spec.column(spec.changed_column)
    return {
        "incoming_changed": typed_expression(column),
        "stored_changed": sql.SQL("t.{}").format(sql.Identifier(column.name)),
    }


class _DeclaredTables(Mapping[str, TableSpec]):
    """Table name -> TableSpec, from the resource declarations of the config folder
    (config/resources/, `pipelines.declarations`), read again when a file changes."""

    def _tables(self) -> Mapping[str, TableSpec]:
        from pipelines.declarations import load_declarations

        return load_declarations().tables

    def __getitem__(self, name: str) -> TableSpec:
        return self._tables()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._tables())

    def __len__(self) -> int:
        return len(self._tables())


TABLES: Mapping[str, TableSpec] = _DeclaredTables()
