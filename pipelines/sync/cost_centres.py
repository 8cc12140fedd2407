"""An account's `scope` (cost-centre ids) applied to a resource, from its `cost_centre`.

A declaration says which cost centre a row belongs to: its typed `column` holds the
cost-centre id (`id` for the cost centres themselves), or, with `through`, the id of a
row of another resource whose own cost centre it is (a link's object). So an account
scoped to some cost centres reads, of each resource, the rows whose column holds one of:

- the cost centres themselves, for a direct column;
- the active rows of the `through` resource within the scope (the objects under the
  cost centres, as the warehouse holds them), for a `through` one.

Every statement is a template of `sql/sync/` over declared identifiers (`warehouse.declared_sql`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from pipelines.declarations import Declared
from pipelines.sync.scan_types import ItemFilter
from pipelines.warehouse.declared_reads import scope_values
from pipelines.warehouse.loader import Scope


def narrowed(
    conn: Connection, declared: Declared, account: str, scope: tuple[int, ...]
) -> dict[str, Any]:
    """A list scan's `scope` (the stored rows it speaks for) and `keep` (the items it
    loads), restricted to the account's cost centres (`ScopeScan` fields)."""
    rule = declared.spec.cost_centre
    values = scope_values(conn, declared, account, scope)
    assert rule is not None  # scope_values raised otherwise
    allowed = frozenset(values)
    path = declared.spec.key if rule.column == "id" else declared.table.column(rule.column).field
    return {"scope": Scope(rule.column, values), "keep": _keep(path, allowed)}


def _keep(path: str, allowed: frozenset[int]) -> ItemFilter:
    parts = path.split(".")

    def keep(item: Mapping[str, Any]) -> bool:
        value: Any = item
        for part in parts:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value in allowed

    return keep
