"""A load's temp staging table: pages COPYed in as they arrive, and what is known of the
ids it holds (id_spans.py), which tells the writes which duplicate checks they can skip.

Only the item is staged (its canonical JSON, id and hash: encoding.py); typed columns
are extracted from `data` by the writes. A table with a `fan_out` column (tables.Column:
the id the list was called for, which items do not carry) stages that id beside each
row: `fan_out_id`, given per page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from psycopg import sql

from pipelines.warehouse.encoding import EncodedPage
from pipelines.warehouse.id_spans import IdSpan, repeat_free
from pipelines.warehouse.load_sql import LoadTarget, template
from pipelines.warehouse.tables import TableSpec


def has_fan_out(spec: TableSpec) -> bool:
    """Whether the table has a column holding the id its list was called for."""
    return any(c.source == "fan_out" for c in spec.columns)


def with_fan_out(page: EncodedPage, spec: TableSpec, fan_out_id: int | None) -> EncodedPage:
    """The page's COPY lines with `fan_out_id` appended to each (the staging of a table with
    a fan_out column takes it: NULL when None); the page itself for any other table.

    The canonical JSON holds no raw newline (encoding.py), so every newline ends a line.
    """
    if not has_fan_out(spec):
        if fan_out_id is not None:
            raise ValueError(f"{spec.name}: has no fan_out column, but a fan_out_id was given")
        return page
    if fan_out_id is not None and type(fan_out_id) is not int:
        raise ValueError(f"{spec.name}: fan_out_id must be an integer id")
    field = b"\\N" if fan_out_id is None else str(fan_out_id).encode()
    return replace(page, lines=page.lines.replace(b"\n", b"\t" + field + b"\n"))


class Staging:
    """The temp staging table of one load (ON COMMIT DROP) and the ids put into it."""

    def __init__(self, cursor: Any, target: LoadTarget) -> None:
        self.target = target
        self.identifier = target.staging
        self.spans: list[IdSpan] = []  # the ids staged since staging was last emptied
        self.unwritten = 0  # rows staged since staging was last emptied
        fan_out = has_fan_out(target.spec)
        # seq orders the stagings: the last staged copy of an id wins. Typed columns are
        # not staged: the writes extract them from data (tables.typed_expression).
        cursor.execute(
            sql.SQL(
                "CREATE TEMP TABLE {} (seq bigint GENERATED ALWAYS AS IDENTITY,"
                " id bigint NOT NULL, data jsonb NOT NULL, row_hash text NOT NULL{})"
                " ON COMMIT DROP"
            ).format(self.identifier, sql.SQL(", fan_out_id bigint" if fan_out else ""))
        )
        # In the order encoding.encode_page writes them (and with_fan_out appends).
        self._copy_sql = sql.SQL("COPY {} (data, id, row_hash{}) FROM STDIN").format(
            self.identifier, sql.SQL(", fan_out_id" if fan_out else "")
        )

    def copy(self, cursor: Any, page: EncodedPage) -> None:
        """COPY the page's rows in."""
        with cursor.copy(self._copy_sql) as copy:
            copy.write(page.lines)
        self.unwritten += page.rows
        self.spans.extend(page.spans)

    def emptied(self, cursor: Any | None) -> None:
        """Forget the rows written out; TRUNCATE staging unless `cursor` is None (the last
        write of a load: the commit drops staging anyway)."""
        if cursor is not None:
            cursor.execute(sql.SQL("TRUNCATE {}").format(self.identifier))
        self.spans = []
        self.unwritten = 0

    def source(self) -> sql.Composable:
        """What the new-row writes read: staging itself when it holds no id twice
        (`id_spans.repeat_free`), else the last staged copy of each id (a sort)."""
        return self.identifier if repeat_free(self.spans) else self.target.latest_staged

    def any_stored(self, cursor: Any) -> bool:
        """Whether any staged id is stored for the account (any_stored.sql)."""
        target = self.target
        statement = template("any_stored").format(staging=self.identifier, table=target.table)
        cursor.execute(statement, {"account": target.account})
        return bool(cursor.fetchone()[0])
