"""Reads of declared tables that the sync, the sweep and the budget plan share: a table's
active ids, the values of a resource's cost-centre column within an account's scope
(directly, or through another resource's rows), and the parent rows a fan-out lists
under. Statements are `sql/sync/` templates over declared identifiers (`declared_sql`)."""

from __future__ import annotations

from sqlalchemy import Connection

from pipelines.declarations import Declared, load_declarations
from pipelines.warehouse.declared_sql import statement


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
