"""Which scans a sync of each resource makes, as the route catalogue describes them.

The four assets are the four resources the product syncs:

- `kustannuspaikat`: one account-wide list scan (change-since when the catalogue has it);
- `kohteet`: one scan per cost centre (the list route fans out over cost centres);
- `osapuolet`: the account-wide link scan; each link carries its party (nested rows);
- `ilmoitukset`: one account-wide list scan (change-since when the catalogue has it).

An account's optional `scope` (cost-centre ids) narrows every scan to those cost centres
and what hangs under them, so a first integration can be tried on a test property.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

from pipelines.settings import AccountConfig
from pipelines.sync.scope_scan import NestedRows, ScopeScan
from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes
from pipelines.warehouse import state
from pipelines.warehouse.loader import Scope

ASSET_RESOURCES = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")
# The asset `osapuolet` scans the links; its state and runs are kept under this name.
LINKS = "osapuoli_yhteydet"
HELSINKI = ZoneInfo("Europe/Helsinki")

ACTIVE_COST_CENTRES = text(
    "SELECT id FROM tampuuri.kustannuspaikat"
    " WHERE account = :account AND deleted_at IS NULL ORDER BY id"
)
SCOPED_OBJECT_IDS = text(
    "SELECT id FROM tampuuri.kohteet WHERE account = :account AND deleted_at IS NULL"
    " AND kustannuspaikka_id = ANY(:scope)"
)


def table_resource(resource: str) -> str:
    """The catalogue resource whose list route an asset resource scans."""
    return LINKS if resource == "osapuolet" else resource


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
    """The scans one resource's sync makes, from the catalogue and the warehouse state.

    `cost_centres` narrows the per-cost-centre object scans (a budget-shaped run).
    """
    if resource == "kohteet":
        return _object_scans(conn, catalogue, account, cost_centres)
    if resource == "osapuolet":
        return [_link_scan(conn, catalogue, account)]
    routes = catalogue.resources[resource]
    return [_account_scan(conn, routes, account, full=full, overlap=overlap)]


def _account_scan(
    conn: Connection,
    routes: ResourceRoutes,
    account: AccountConfig,
    *,
    full: bool,
    overlap: timedelta,
) -> ScopeScan:
    assert routes.list is not None
    scan = ScopeScan(resource=routes.name, route=routes.list, changed_field=routes.changed_field)
    cursor = state.get_cursor(conn, account.name, routes.name)
    if routes.change_since and cursor is not None and not full:
        since = (cursor - overlap).astimezone(HELSINKI).isoformat()
        scan = replace(scan, filters={routes.change_since: since}, finds_deletions=False)
    if account.scope:
        scan = replace(scan, **_narrowed(routes, account.scope))
    return scan


def _narrowed(routes: ResourceRoutes, scope: tuple[int, ...]) -> dict[str, Any]:
    """Restrict an account-wide scan to the account's cost centres."""
    allowed = frozenset(scope)
    if routes.name == "kustannuspaikat":
        return {"scope": Scope("id", scope), "keep": lambda item: item.get("Id") in allowed}
    return {
        "scope": Scope("kustannuspaikka_id", scope),
        "keep": lambda item: item.get("KustannuspaikkaId") in allowed,
    }


def _object_scans(
    conn: Connection,
    catalogue: Catalogue,
    account: AccountConfig,
    only: tuple[int, ...] | None,
) -> list[ScopeScan]:
    routes = catalogue.resources["kohteet"]
    assert routes.list is not None
    (param,) = routes.list.parameters
    cost_centres = list(conn.execute(ACTIVE_COST_CENTRES, {"account": account.name}).scalars())
    for allowed in (account.scope, only):
        if allowed is not None:
            cost_centres = [c for c in cost_centres if c in set(allowed)]
    return [
        ScopeScan(
            resource="kohteet",
            route=routes.list,
            path_params={param: cc},
            scope=Scope("kustannuspaikka_id", (cc,)),
            state_scope=str(cc),
            changed_field=routes.changed_field,
        )
        for cc in cost_centres
    ]


def _link_scan(conn: Connection, catalogue: Catalogue, account: AccountConfig) -> ScopeScan:
    routes = catalogue.resources[LINKS]
    assert routes.list is not None
    nested = tuple(
        # In a scoped account the links seen do not speak for every party of the account.
        NestedRows(table=table, field=field_name, find_deletions=not account.scope)
        for table, field_name in routes.nested.items()
    )
    scan = ScopeScan(resource=LINKS, route=routes.list, nested=nested)
    if account.scope:
        objects = frozenset(
            conn.execute(
                SCOPED_OBJECT_IDS, {"account": account.name, "scope": list(account.scope)}
            ).scalars()
        )
        scan = replace(
            scan,
            scope=Scope("kohde_id", tuple(sorted(objects))),
            keep=lambda item: item.get("KohdeId") in objects,
        )
    return scan
