"""An account's `scope` (cost-centre ids) applied to a resource, from its `cost_centre`.

A declaration says which cost centre a row belongs to: its typed `column` holds the
cost-centre id (`id` for the cost centres themselves), or, with `through`, the id of a
row of another resource whose own cost centre it is (a link's object). So an account
scoped to some cost centres reads, of each resource, the rows whose column holds one of:

- the cost centres themselves, for a direct column;
- the active rows of the `through` resource within the scope (the objects under the
  cost centres, as the warehouse holds them), for a `through` one.

Every statement is a template of `sql/sync/` over declared identifiers (`sync_sql`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from pipelines.declarations import Declared, load_declarations
from pipelines.sync.scan_types import ItemFilter
from pipelines.sync.sync_sql import statement
from pipelines.warehouse.loader import Scope


def active_ids(conn: Connection, table: str, account: str) -> list[int]:
    """The active rows' ids of a mirrored table, ascending."""
    rows = conn.execute(statement("active_ids", table), {"account": account})
    return [int(i) for i in rows.scalars()]


def scope_values(
    conn: Connection, declared: Declared, account: str, scope: tuple[int, ...]
) -> tuple[int, ...]:
    """The values of the resource's cost-centre column that belong to `scope`.

    Raises:
        ValueError: the resource declares no `cost_centre`, so a scope cannot narrow it.
    """
    rule = declared.spec.cost_centre
    if rule is None:
        raise ValueError(
            f"{declared.source.name}: {declared.name}: declares no cost_centre, so an"
            " account's scope cannot narrow it"
        )
    if rule.through is None:
        return tuple(scope)
    through = load_declarations()[rule.through]
    values = scope_values(conn, through, account, scope)
    column = through.spec.cost_centre.column  # type: ignore[union-attr]  # load.py checks it
    rows = conn.execute(
        statement("active_ids_where", through.name, column),
        {"account": account, "values": list(values)},
    )
    return tuple(int(i) for i in rows.scalars())


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


def fan_out_ids(
    conn: Connection,
    parent: Declared,
    account: str,
    *,
    scope: tuple[int, ...] | None,
    only: tuple[int, ...] | None,
) -> list[int]:
    """The parent rows a fan-out lists under: the active ones, within the account's
    `scope` (by the parent's own cost centre) and `only` (a budget-shaped choice)."""
    ids = active_ids(conn, parent.name, account)
    if scope is not None and parent.spec.cost_centre is not None:
        allowed = set(scope_values(conn, parent, account, scope))
        ids = [i for i in ids if i in allowed]
    if only is not None:
        chosen = set(only)
        ids = [i for i in ids if i in chosen]
    return ids
