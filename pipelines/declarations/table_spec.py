"""The model of a mirrored table that a declaration describes: typed columns, child tables,
indexes. `pipelines.warehouse.tables` builds its SQL from it (and re-exports it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

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
