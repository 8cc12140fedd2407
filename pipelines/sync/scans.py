"""Which scans a sync of each asset makes, from its declaration and the warehouse.

An asset's scanned resource (`Declarations.scanned`) is one of two kinds:

- an account-wide list (`routes.fan_out` unset): one scan, change-since from the cursor
  when the route has a filter for it and the run is not full; rows of other resources
  nested in its items (a link's party: `nested`) load with it;
- a fan-out list (`routes.fan_out`: objects, maintenance tasks per cost centre): one scan
  per active row of the parent resource, its id in the list's one path parameter; the
  scan speaks for the rows whose fan-out column holds that id (`declared.fan_out_column`).

An account's optional `scope` (cost-centre ids) narrows every scan to those cost centres
and what hangs under them (`cost_centres`: by each declaration's `cost_centre`), so a
first integration can be tried on a test property.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from pipelines.declarations import Declared, load_declarations
from pipelines.settings import AccountConfig
from pipelines.sync.cost_centres import narrowed
from pipelines.sync.declared import LazyNames, fan_out_column, has_fan_out_column
from pipelines.sync.scope_scan import NestedRows, ScopeScan
from pipelines.tampuuri.catalogue import Catalogue
from pipelines.warehouse import state
from pipelines.warehouse.declared_reads import fan_out_ids
from pipelines.warehouse.loader import Scope

HELSINKI = ZoneInfo("Europe/Helsinki")


def synced_assets(account: AccountConfig | None = None) -> tuple[str, ...]:
    """The assets `account` syncs (its opt-ins included); every account's without one."""
    return account.synced_assets() if account is not None else load_declarations().synced_assets()


# The assets every account syncs (the declared ones not opt-in), read when used.
ASSET_RESOURCES: Sequence[str] = LazyNames(synced_assets)


def table_resource(resource: str) -> str:
    """The resource whose list route a sync of an asset scans (a name that is no asset:
    itself)."""
    declarations = load_declarations()
    return declarations.scanned(resource) if resource in declarations.assets else resource


def plan_scans(
    conn: Connection,
    resource: str,
    *,
    catalogue: Catalogue,
    account: AccountConfig,
    full: bool,
    overlap: timedelta,
    cost_centres: tuple[int, ...] | None = None,
) -> list[ScopeScan]:
    """The scans one asset's sync makes, from its declaration and the warehouse state.

    `cost_centres` narrows a fan-out to these parent rows (a budget-shaped run).
    """
    declared = load_declarations()[table_resource(resource)]
    if declared.spec.routes.fan_out is not None:
        return _fan_out_scans(conn, declared, catalogue, account, cost_centres)
    return [_account_scan(conn, declared, catalogue, account, full=full, overlap=overlap)]


def _nested(declared: Declared, account: AccountConfig) -> tuple[NestedRows, ...]:
    # In a scoped account the items seen do not speak for every nested row of the account.
    return tuple(
        NestedRows(table=table, field=field_name, find_deletions=not account.scope)
        for table, field_name in declared.spec.nested.items()
    )


def _account_scan(
    conn: Connection,
    declared: Declared,
    catalogue: Catalogue,
    account: AccountConfig,
    *,
    full: bool,
    overlap: timedelta,
) -> ScopeScan:
    routes = catalogue.resources[declared.name]
    assert routes.list is not None
    scan = ScopeScan(
        resource=routes.name,
        route=routes.list,
        changed_field=routes.changed_field,
        nested=_nested(declared, account),
    )
    cursor = state.get_cursor(conn, account.name, routes.name)
    if routes.change_since and cursor is not None and not full:
        since = (cursor - overlap).astimezone(HELSINKI).isoformat()
        scan = replace(scan, filters={routes.change_since: since}, finds_deletions=False)
    if account.scope:
        scan = replace(scan, **narrowed(conn, declared, account.name, account.scope))
    return scan


def _fan_out_scans(
    conn: Connection,
    declared: Declared,
    catalogue: Catalogue,
    account: AccountConfig,
    only: tuple[int, ...] | None,
) -> list[ScopeScan]:
    routes = catalogue.resources[declared.name]
    assert routes.list is not None and routes.fan_out is not None
    (param,) = routes.list.parameters
    parent = load_declarations()[routes.fan_out]
    column = fan_out_column(declared)
    stores_id = has_fan_out_column(declared)
    nested = _nested(declared, account)
    return [
        ScopeScan(
            resource=routes.name,
            route=routes.list,
            path_params={param: parent_id},
            scope=Scope(column, (parent_id,)),
            state_scope=str(parent_id),
            changed_field=routes.changed_field,
            nested=nested,
            fan_out_id=parent_id if stores_id else None,
        )
        for parent_id in fan_out_ids(conn, parent, account.name, scope=account.scope, only=only)
    ]
