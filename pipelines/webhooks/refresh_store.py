"""The warehouse side of a targeted refresh: its writes and the few reads that plan it.

Every write goes through `ScopeLoad`, the nightly sync's loader (same history, same
freshness guard), one transaction per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from pipelines.sync.targeted_load import load_rows
from pipelines.tampuuri.catalogue import ResourceRoutes
from pipelines.warehouse.loader import LoadCounts, ScopeLoad

LINKS = "osapuoli_yhteydet"
COST_CENTRES_OF = text(
    "SELECT id, kustannuspaikka_id FROM tampuuri.kohteet"
    " WHERE account = :account AND id = ANY(:ids)"
)
LINK_EXTENT = text(
    "SELECT max(id), count(*) FILTER (WHERE deleted_at IS NULL)"
    " FROM tampuuri.osapuoli_yhteydet WHERE account = :account"
)
ACTIVE_IN_SCOPE = text(
    "SELECT id FROM tampuuri.kohteet"
    " WHERE account = :account AND kustannuspaikka_id = :cc AND deleted_at IS NULL"
)
# The active links naming deleted objects or parties (Tampuuri drops them with them).
LINKS_NAMING = {
    table: text(
        f"SELECT id FROM tampuuri.osapuoli_yhteydet WHERE account = :account"
        f" AND {column} = ANY(:ids) AND deleted_at IS NULL"  # column from this constant only
    )
    for table, column in (("kohteet", "kohde_id"), ("osapuolet", "osapuoli_id"))
}


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
        object or party also ends its links (no webhook says so)."""
        if not items and not deleted:
            return LoadCounts()
        with self.engine.begin() as conn:
            load = ScopeLoad(conn, table, account=self.account, run_id=self.run_id)
            if items:
                load.stage(items)
            counts = load.apply(deleted_ids=deleted)
            if deleted and table in LINKS_NAMING:
                ended = list(
                    conn.execute(
                        LINKS_NAMING[table], {"account": self.account, "ids": list(deleted)}
                    ).scalars()
                )
                if ended:
                    link_load = ScopeLoad(conn, LINKS, account=self.account, run_id=self.run_id)
                    counts = counts + link_load.apply(deleted_ids=ended)
            return counts

    def write_with_nested(self, routes: ResourceRoutes, items: list[dict[str, Any]]) -> LoadCounts:
        """Upsert items and the rows nested in them (no deletions), in one transaction."""
        with self.engine.begin() as conn:
            return load_rows(conn, routes, account=self.account, run_id=self.run_id, items=items)

    def link_extent(self) -> tuple[int | None, int]:
        """(newest link id ever stored, active links) of the account."""
        with self.engine.connect() as conn:
            newest, active = conn.execute(LINK_EXTENT, {"account": self.account}).one()
        return newest, int(active)

    def cost_centres_of(self, ids: list[int]) -> dict[int, int | None]:
        """The stored cost centre of each object id the warehouse holds."""
        with self.engine.connect() as conn:
            rows = conn.execute(COST_CENTRES_OF, {"account": self.account, "ids": ids})
            return {row_id: cc for row_id, cc in rows}

    def active_in_scope(self, cc: int) -> list[int]:
        """The active objects of one cost centre."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(ACTIVE_IN_SCOPE, {"account": self.account, "cc": cc}).scalars()
            )
