"""What the warehouse knows that a call plan needs: sync_state rows and fan-out parents.

Small reads of their own (not `warehouse.state`) so that planning depends only on the
public schema in `sql/migrations/0001_create_schemas.sql`; the statements are
`sql/budget/sync_state.sql` and `sql/sync/` templates over declared tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from sqlalchemy import Connection, TextClause, text

from pipelines.declarations import load_declarations
from pipelines.settings import PROJECT_ROOT, AccountConfig
from pipelines.warehouse.declared_reads import fan_out_ids

SQL_DIR = PROJECT_ROOT / "sql" / "budget"


@cache
def _sync_state() -> TextClause:
    return text((SQL_DIR / "sync_state.sql").read_text(encoding="utf-8"))


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
        fan_out_rows: per fan-out parent resource (the cost centres), its active rows'
            ids, restricted to the account's `scope` when set: the scopes of the lists
            that fan out over it.
    """

    states: Mapping[tuple[str, str], ScopeState] = field(default_factory=dict)
    fan_out_rows: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def state(self, resource: str, scope: str = "") -> ScopeState | None:
        return self.states.get((resource, scope))

    def parent_rows(self, parent: str) -> tuple[int, ...]:
        """The active rows of a fan-out parent (empty before its first sync)."""
        return self.fan_out_rows.get(parent, ())

    @property
    def cost_centres(self) -> tuple[int, ...]:
        """The rows of the one fan-out parent (the cost centres in the built-ins); empty
        when none is declared. With several parents, ask `parent_rows`."""
        parents = sorted(self.fan_out_rows)
        return self.fan_out_rows[parents[0]] if len(parents) == 1 else ()


def read_snapshot(conn: Connection, account: AccountConfig) -> WarehouseSnapshot:
    """Read the sync_state rows and the active fan-out parent rows of `account`."""
    states = {
        (row.resource, row.scope): ScopeState(
            cursor=row.cursor,
            last_total=None if row.last_total is None else int(row.last_total),
            last_full_scan_at=row.last_full_scan_at,
        )
        for row in conn.execute(_sync_state(), {"account": account.name})
    }
    declarations = load_declarations()
    rows = {
        parent: tuple(
            fan_out_ids(
                conn, declarations[parent], account.name, scope=account.scope or None, only=None
            )
        )
        for parent in sorted(declarations.fan_out_parents())
    }
    return WarehouseSnapshot(states=states, fan_out_rows=rows)
