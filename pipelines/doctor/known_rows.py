"""What the warehouse already knows that the probes can use for free (no API call).

A row the warehouse holds as deleted is the read-only way to check "404 after delete":
an integration user cannot delete anything to test it. Active ids give the batch probe real
ids to send.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, TextClause, text

from pipelines.doctor.plan import DeletedRow
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.warehouse.migrations import SQL_DIR
from pipelines.warehouse.tables import TABLES


@cache
def _sql(name: str, table: str) -> TextClause:
    if table not in TABLES:  # the identifier comes from this code's constants only
        raise KeyError(f"unknown warehouse table {table!r}")
    return text((SQL_DIR / "doctor" / name).read_text(encoding="utf-8").format(table=table))


def deleted_rows(conn: Connection, catalogue: Catalogue, account: str) -> dict[str, DeletedRow]:
    """Per detail route template, the most recently deleted row of a resource using it."""
    found: dict[str, DeletedRow] = {}
    for routes in catalogue.resources.values():
        if routes.detail is None or routes.name not in TABLES:
            continue
        row = conn.execute(_sql("deleted_row.sql", routes.name), {"account": account}).first()
        if row is None:
            continue
        candidate = DeletedRow(routes.name, int(row.id), row.deleted_at)
        known = found.get(routes.detail.template)
        if known is None or candidate.deleted_at > known.deleted_at:
            found[routes.detail.template] = candidate
    return found


def active_ids(conn: Connection, table: str, account: str, count: int) -> list[int]:
    """Up to `count` ids of `table` the warehouse holds as active, ascending."""
    if table not in TABLES:
        return []
    rows = conn.execute(_sql("known_ids.sql", table), {"account": account, "count": count})
    return [int(r.id) for r in rows]
