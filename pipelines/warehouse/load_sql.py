"""The names and SQL pieces every statement of one load shares.

SQL templates live in `sql/loader/`; identifiers come only from the load's `TableSpec`
(tables.py), never from items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from psycopg import sql

from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.tables import Column, TableSpec, typed_expression

SQL_DIR = PROJECT_ROOT / "sql" / "loader"
SCHEMA = "tampuuri"


@cache
def template(name: str) -> sql.SQL:
    """`sql/loader/<name>.sql`, read once."""
    return sql.SQL((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))


def assignments(columns: Sequence[Column]) -> sql.Composable:
    """`c = EXCLUDED.c` for each typed column (the ON CONFLICT update of a row)."""
    return sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c.name)) for c in columns
    )


def column_names(columns: Sequence[Column]) -> sql.Composable:
    """The typed columns' names, comma-separated, in table order."""
    return sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)


def column_value(column: Column, source: str = "s") -> sql.Composable:
    """A typed column's value for a staged row: extracted from `<source>.data`
    (tables.typed_expression), or for a `fan_out` column the id staged beside the row
    (`<source>.fan_out_id`, staging.py)."""
    if column.source == "fan_out":
        return sql.SQL("{}.fan_out_id::{}").format(sql.Identifier(source), sql.SQL(column.cast))
    return typed_expression(column, source)


def column_values(columns: Sequence[Column], source: str = "s") -> sql.Composable:
    """Each typed column's value for a staged row (`column_value`), comma-separated."""
    return sql.SQL(", ").join(column_value(c, source) for c in columns)


@dataclass(frozen=True)
class LoadTarget:
    """One load's tables: the mirrored table, its history, and the load's temp tables.

    Attributes:
        spec: the mirrored table's spec.
        account: the account the rows belong to.
        run_id: recorded on every history version written.
        table, history: `tampuuri.<name>` and `tampuuri.<name>_history`.
        staging, plan: the load's temp tables (unique per load: one transaction may hold
            several loads, even of the same table).
    """

    spec: TableSpec
    account: str
    run_id: str
    table: sql.Identifier
    history: sql.Identifier
    staging: sql.Identifier
    plan: sql.Identifier

    @classmethod
    def of(cls, spec: TableSpec, *, account: str, run_id: str, number: int) -> LoadTarget:
        return cls(
            spec=spec,
            account=account,
            run_id=run_id,
            table=sql.Identifier(SCHEMA, spec.name),
            history=sql.Identifier(SCHEMA, spec.history),
            staging=sql.Identifier(f"staging_{spec.name}_{number}"),
            plan=sql.Identifier(f"plan_{spec.name}_{number}"),
        )

    @property
    def params(self) -> dict[str, Any]:
        """The parameters the write statements take."""
        return {"account": self.account, "run_id": self.run_id}

    @property
    def latest_staged(self) -> sql.Composable:
        """The last staged copy of each staged id (latest_staged.sql)."""
        return template("latest_staged").format(staging=self.staging)
