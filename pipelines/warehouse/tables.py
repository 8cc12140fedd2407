"""The mirrored tables: which typed columns each has and how to extract them from an item.

The tables themselves are declared in config/resources/ (`pipelines.declarations`);
`TABLES` is their TableSpecs.

Every table keeps the item verbatim in `data`; the typed columns are a convenience for BI
users, extracted in SQL from `data` with the lenient `ops.to_*` casts of migration 0001 (a
value in an unexpected shape becomes NULL, the item itself is kept). These specs are the
only source of identifiers the loader puts into SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from psycopg import sql

Cast = Literal["text", "bigint", "integer", "numeric", "boolean", "timestamptz", "date"]

# The SQL function that turns the item's text value into each type. `text` needs none;
# `integer` has no function of its own in 0001 and goes through to_bigint with a range
# check (see typed_expression).
CAST_FUNCTIONS: dict[Cast, str | None] = {
    "text": None,
    "bigint": "to_bigint",
    "integer": "to_bigint",
    "numeric": "to_numeric",
    "boolean": "to_boolean",
    "timestamptz": "to_timestamptz",
    "date": "to_date",
}
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    """A typed column of a mirrored table.

    Attributes:
        name: the column in `tampuuri.<table>`.
        sql_type: its declared type in migration 0001.
        field: the JSON key of the item the value comes from (e.g. "Lisätiedot").
        cast: how the item's text value becomes `sql_type`.
        source: "item" (read from the item's `field`), or "fan_out": the id of the row a
            fan-out list was called for (the cost centre of `POST huoltokirja/{id}/...`),
            which the items themselves do not carry; `field` is then empty.
    """

    name: str
    sql_type: str
    field: str
    cast: Cast
    source: Literal["item", "fan_out"] = "item"

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"column name {self.name!r} is not a plain identifier")
        if self.cast not in CAST_FUNCTIONS:
            raise ValueError(f"column {self.name!r}: unknown cast {self.cast!r}")


@dataclass(frozen=True)
class ChildSpec:
    """A list inside each item that becomes its own table (an inspection's `Huomiot`).

    The child table `tampuuri.<name>` holds one row per list element: (account,
    parent_id, ordinal) is its key, `data` the element verbatim, `columns` typed from it.
    A parent's children are rewritten whenever the parent's row changes, in the same
    transaction; a soft-deleted parent keeps its children (BI views filter on the parent).

    Attributes:
        name: the child table (e.g. "asuntotarkastukset_huomiot").
        field: the item's key holding the list (e.g. "Huomiot").
        columns: typed columns extracted from each element.
    """

    name: str
    field: str
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"child table name {self.name!r} is not a plain identifier")


@dataclass(frozen=True)
class TableSpec:
    """One mirrored table of schema `tampuuri`.

    Attributes:
        name: the table (its history table is `<name>_history`).
        columns: typed columns, in table order, beyond the common ones (account, id, data...).
        changed_column: the typed column holding the API's last-change time (`muokattu`),
            used by the freshness guard; None when the item carries none.
        known_fields: the item keys the project knows of; others are reported as new.
        indexes: extra (account, ...) indexes, each a tuple of typed column names
            (`db upgrade` creates them as `<table>_<columns>_idx`).
        children: lists inside each item that become their own tables.
    """

    name: str
    columns: tuple[Column, ...]
    changed_column: str | None
    known_fields: frozenset[str]
    indexes: tuple[tuple[str, ...], ...] = ()
    children: tuple[ChildSpec, ...] = ()

    def __post_init__(self) -> None:
        if not _IDENTIFIER.match(self.name):
            raise ValueError(f"table name {self.name!r} is not a plain identifier")
        if self.changed_column is not None and self.changed_column not in self.column_names:
            raise ValueError(f"{self.name}: changed column {self.changed_column!r} is not typed")

    @property
    def history(self) -> str:
        """The name of the table's history table."""
        return f"{self.name}_history"

    @property
    def column_names(self) -> tuple[str, ...]:
        """The typed columns' names, in table order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The typed column called `name`; KeyError names the table when there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"tampuuri.{self.name} has no typed column {name!r}")


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
