"""What the warehouse knows that a call plan needs: sync_state rows and active cost centres.

Small reads of their own (not `warehouse.state`) so that planning depends only on the
public schema in `sql/migrations/0001_create_schemas.sql`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, text

from pipelines.settings import AccountConfig

SYNC_STATE = text(
    "SELECT resource, scope, cursor, last_total, last_full_scan_at"
    " FROM ops.sync_state WHERE account = :account"
)
# Fan-out scopes: the cost centres a sync lists objects under (kohteet/{kohde_id}/selaa).
ACTIVE_COST_CENTRES = text(
    "SELECT id FROM tampuuri.kustannuspaikat"
    " WHERE account = :account AND deleted_at IS NULL ORDER BY id"
)


@dataclass(frozen=True)
class ScopeState:
    """One ops.sync_state row."""

    cursor: datetime | None = None
    last_total: int | None = None
    last_full_scan_at: datetime | None = None


@dataclass(frozen=True)
class WarehouseSnapshot:
    """The planning inputs read from the warehouse for one account.

    Attributes:
        states: sync_state rows by (state resource, scope).
        cost_centres: active cost centres, restricted to the account's `scope` when set.
    """

    states: Mapping[tuple[str, str], ScopeState] = field(default_factory=dict)
    cost_centres: tuple[int, ...] = ()

    def state(self, resource: str, scope: str = "") -> ScopeState | None:
        return self.states.get((resource, scope))


def read_snapshot(conn: Connection, account: AccountConfig) -> WarehouseSnapshot:
    """Read the sync_state rows and the active cost centres of `account`."""
    states = {
        (row.resource, row.scope): ScopeState(
            cursor=row.cursor,
            last_total=None if row.last_total is None else int(row.last_total),
            last_full_scan_at=row.last_full_scan_at,
        )
        for row in conn.execute(SYNC_STATE, {"account": account.name})
    }
    cost_centres = [
        int(i) for i in conn.execute(ACTIVE_COST_CENTRES, {"account": account.name}).scalars()
    ]
    if account.scope:
        allowed = set(account.scope)
        cost_centres = [c for c in cost_centres if c in allowed]
    return WarehouseSnapshot(states=states, cost_centres=tuple(cost_centres))
