"""The warehouse side of a targeted refresh: its writes and the few reads that plan it.

Every write goes through `ScopeLoad`, the nightly sync's loader (same history, same
freshness guard, child tables rewritten with their parents), one transaction per call.
SQL identifiers come only from the declared tables (`warehouse.tables.TABLES`, through
`warehouse.declared_sql` and `sql/webhooks/`); values are bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Engine, TextClause, text

from pipelines.declarations import load_declarations
from pipelines.settings import PROJECT_ROOT
from pipelines.sync.targeted_load import load_rows
from pipelines.tampuuri.catalogue import ResourceRoutes
from pipelines.warehouse.declared_sql import statement
from pipelines.warehouse.loader import LoadCounts, ScopeLoad
from pipelines.warehouse.tables import TABLES

SQL_DIR = PROJECT_ROOT / "sql" / "webhooks"


@cache
def _extent(table: str) -> TextClause:
    template = (SQL_DIR / "extent.sql").read_text(encoding="utf-8")
    return text(template.format(table=TABLES[table].name))


def ended_with(table: str) -> list[tuple[str, str]]:
    """(table, column) of the association rows that end when a row of `table` is deleted
    (Tampuuri drops them with it, and no webhook says so): the rows of a resource with
    nested rows (the links, carrying their party) name their nested row by the column
    reading `<field><key>` (OsapuoliId), and their cost-centre `through` row by its column."""
    ends = []
    for declared in load_declarations().resources.values():
        spec = declared.spec
        if not spec.nested:
            continue
        if spec.cost_centre is not None and spec.cost_centre.through == table:
            ends.append((declared.name, spec.cost_centre.column))
        field = spec.nested.get(table)
        if field is not None:
            key = load_declarations()[table].spec.key
            ends.extend((declared.name, c.name) for c in spec.columns if c.path == field + key)
    return ends


@dataclass(frozen=True)
class RefreshStore:
    """One account's warehouse, as one refresh run (its history versions' run id) sees it."""

    engine: Engine
    account: str
    run_id: str

    def write(
        self, table: str, items: Sequence[dict[str, Any]], deleted: Sequence[int]
    ) -> LoadCounts:
        """Upsert items and soft-delete the confirmed ids, in one transaction; a deleted
        object or party also ends its links (`ended_with`)."""
        if not items and not deleted:
            return LoadCounts()
        with self.engine.begin() as conn:
            load = ScopeLoad(conn, table, account=self.account, run_id=self.run_id)
            if items:
                load.stage(items)
            counts = load.apply(deleted_ids=deleted)
            for other, column in ended_with(table) if deleted else ():
                params = {"account": self.account, "values": list(deleted)}
                query = statement("active_ids_where", other, column)
                ended = list(conn.execute(query, params).scalars())
                if ended:
                    other_load = ScopeLoad(conn, other, account=self.account, run_id=self.run_id)
                    counts = counts + other_load.apply(deleted_ids=ended)
            return counts

    def write_with_nested(self, routes: ResourceRoutes, items: list[dict[str, Any]]) -> LoadCounts:
        """Upsert items and the rows nested in them (no deletions), in one transaction."""
        with self.engine.begin() as conn:
            return load_rows(conn, routes, account=self.account, run_id=self.run_id, items=items)

    def extent(self, table: str) -> tuple[int | None, int]:
        """(newest id ever stored, active rows) of the account's `table`."""
        with self.engine.connect() as conn:
            newest, active = conn.execute(_extent(table), {"account": self.account}).one()
        return newest, int(active)

    def column_of(self, table: str, column: str, ids: list[int]) -> dict[int, int | None]:
        """The stored `column` of each id the warehouse holds."""
        with self.engine.connect() as conn:
            params = {"account": self.account, "ids": ids}
            rows = conn.execute(statement("column_of_ids", table, column), params)
            return {row_id: value for row_id, value in rows}

    def active_where(self, table: str, column: str, value: int) -> list[int]:
        """The active rows of `table` whose `column` is `value`."""
        with self.engine.connect() as conn:
            params = {"account": self.account, "values": [value]}
            return list(
                conn.execute(statement("active_ids_where", table, column), params).scalars()
            )
