"""A full scan that reports success is complete, whatever users change between its pages.

For each route style (the account-wide notice list `ilmoitukset/selaa`, the link list
`osapuolet/yhteydet/selaa`, the per-cost-centre `POST kohteet/{id}/selaa`) and each drift
pattern of the simulator (`delete_read`, `insert_after_cursor`, `delete_and_insert`, and
`delete_and_insert` repeated between three consecutive calls), ONE full sync under the
drift must report success and leave the drifting table with exactly:

    S1 <= live <= S1 | D

where S0 and S1 are the simulator's rows before and after the sync (read over HTTP from
`/_sim/state`) and D the rows the drift deleted after the scan had read them (`/_sim/drift`).
So every row that existed throughout the scan (S0 & S1) is live, every row inserted
mid-scan after the cursor is live too, and no row that was gone throughout is: the rows
deleted before the sync are soft-deleted by it. A row read and then deleted mid-scan may
stay live until the next full scan, which soft-deletes it (tested too: then warehouse ==
API). Call counts are exact: the overlap-row minimum for S0's Totals, plus the repair reads
(`REPAIRS`: one per gap the drift opened), plus one confirmation per row deleted before
the sync.

A drift the product cannot repair within `max_drift_passes` (here 1: no repair reads) makes
the resource `incomplete`, never `success`, and deletes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

import httpx
import pytest

from pipelines.assets import check_queries
from pipelines.assets.metadata import sync_metadata
from pipelines.settings import SyncSettings, load_sync_settings
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import SyncReport
from pipelines.tampuuri.paging import expected_calls
from tests.sync.helpers import (
    TABLES,
    account_for,
    assert_parity,
    ledger_by_key,
    sim_by_key,
    warehouse_rows,
)

ACCOUNT = "demo-a"
SETTINGS = dataclasses.replace(
    load_sync_settings(), backoff_initial_s=0.001, backoff_max_s=0.01, max_attempts=8
)


@dataclass(frozen=True)
class RouteStyle:
    name: str
    table: str  # the warehouse table and the simulator's resource
    route: tuple[str, str]  # (method, template) in the ledger
    confirm_route: tuple[str, str]  # how a row deleted before the sync is confirmed


NOTICES = RouteStyle(
    "ilmoitukset/selaa", "ilmoitukset", ("GET", "ilmoitukset/selaa"), ("GET", "ilmoitukset/{id}")
)
LINKS = RouteStyle(
    "osapuolet/yhteydet/selaa",
    "osapuoli_yhteydet",
    ("GET", "osapuolet/yhteydet/selaa"),
    ("GET", "osapuolet/yhteydet/selaa"),  # a re-scan of the link's object (KohdeId)
)
OBJECTS = RouteStyle(
    "kohteet/{id}/selaa",
    "kohteet",
    ("POST", "kohteet/{kohde_id}/selaa"),
    ("GET", "kohteet/{kohde_id}"),
)
# pattern name -> (drift_patterns, drift_max): "repeated" drifts between 3 consecutive calls
PATTERNS = {
    "delete_read": ("delete_read", 1),
    "insert_after_cursor": ("insert_after_cursor", 1),
    "delete_and_insert": ("delete_and_insert", 1),
    "repeated": ("delete_and_insert", 3),
}
# Repair reads one sync makes: one per gap a deletion opened before a page boundary (the
# repeated drift opens three); an insert at the end opens none (the last page, not full,
# reads it).
REPAIRS = {"delete_read": 1, "insert_after_cursor": 0, "delete_and_insert": 1, "repeated": 3}


def build_world(style: RouteStyle, rows: int = 860) -> Simulator:
    """~1,500 rows, the drifting list grown to `rows` by real inserts: four pages, so the
    repeated drift falls between three consecutive planned calls."""
    sim = Simulator(SimulatorConfig(seed=5, scale=1500, accounts=(ACCOUNT,)))
    fields = {}
    if style is OBJECTS:
        fields = {"ParentId": big_cost_centre(sim)}
        have = len(sim.store(ACCOUNT).objects_by_cc[fields["ParentId"]])
    else:
        have = len(sim.items(ACCOUNT, style.table))
    for _ in range(rows - have):
        sim.apply_change(ACCOUNT, style.table, "insert", fields=fields)
    return sim


def big_cost_centre(sim: Simulator) -> int:
    return sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]


class Admin:
    """The simulator's admin API over HTTP (in process), one request at a time."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def request(self, method: str, path: str, body: object = None) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.sim.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
                return await client.request(method, path, json=body)

        return asyncio.run(send())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def put(self, path: str, json: object) -> httpx.Response:
        return self.request("PUT", path, json)


def sync(engine, sim: Simulator, settings: SyncSettings = SETTINGS) -> SyncReport:
    account, environ = account_for(sim, ACCOUNT)
    return run_sync(
        engine,
        SyncRequest(account, full=True),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=settings,
    )


def state(admin: Admin) -> dict[str, set[int]]:
    """The simulator's rows per table, over HTTP (what a complete sync should hold)."""
    out = {}
    for table in TABLES:
        r = admin.get(f"/_sim/state/{ACCOUNT}/{table}")
        assert r.status_code == 200, r.text
        out[table] = {item["Id"] for item in r.json()["Items"]}
    return out


def minimum_calls(sim: Simulator) -> int:
    """The overlap-row minimum of a drift-free full sync of the simulator as it is now."""
    per_cc: dict[int, int] = {cc["Id"]: 0 for cc in sim.items(ACCOUNT, "kustannuspaikat")}
    for obj in sim.items(ACCOUNT, "kohteet"):
        per_cc[obj["KustannuspaikkaId"]] += 1
    lists = [len(per_cc), len(sim.items(ACCOUNT, "osapuoli_yhteydet"))]
    lists.append(len(sim.items(ACCOUNT, "ilmoitukset")))
    return sum(expected_calls(n) for n in [*lists, *per_cc.values()])


def delete_before_sync(sim: Simulator, style: RouteStyle, count: int = 2) -> list[int]:
    """Rows gone throughout the next scan, from the list that will drift: deleted (really)
    before it starts (objects: ones without children or links, so nothing else goes)."""
    store = sim.store(ACCOUNT)
    if style is OBJECTS:
        ids = list(store.objects_by_cc[big_cost_centre(sim)])
        parents = {m.parent for m in store.tables["kohteet"].meta.values()}
        ids = [i for i in ids if i not in parents and i not in store.links_by_kohde]
    else:
        ids = [i["Id"] for i in sim.items(ACCOUNT, style.table)]
    chosen = ids[300 : 300 + count]
    for row_id in chosen:
        sim.apply_change(ACCOUNT, style.table, "delete", id=row_id)
    return chosen


def drift(admin: Admin, style: RouteStyle, pattern: str) -> None:
    patterns, most = PATTERNS[pattern]
    r = admin.put(
        "/_sim/faults",
        json={"drift_rate": 1.0, "drift_patterns": [patterns], "drift_max": most,
              "drift_resources": [style.table]},
    )  # fmt: skip
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("style", [NOTICES, LINKS, OBJECTS], ids=lambda s: s.name)
def test_one_faulted_full_sync_holds_every_row_that_existed_throughout(
    engine, style: RouteStyle, pattern: str
):
    sim = build_world(style)
    admin = Admin(sim)
    assert sync(engine, sim).ok
    gone = delete_before_sync(sim, style)
    before = state(admin)
    minimum = minimum_calls(sim)
    calls_before = sum(r["count"] for r in sim.transactions())
    drift(admin, style, pattern)

    report = sync(engine, sim)

    after = state(admin)
    events = admin.get("/_sim/drift").json()["events"]
    _, most = PATTERNS[pattern]
    assert len({e["offset"] for e in events}) == most  # the drift happened, between pages
    assert report.ok, [(r.resource, r.status, r.error) for r in report.resources]
    table = style.table
    live = set(warehouse_rows(engine, ACCOUNT, table))
    deleted_mid_scan = {e["id"] for e in events if e["op"] == "delete"}
    inserted = {e["id"] for e in events if e["op"] == "insert"}
    assert after[table] <= live, (
        f"missing {sorted(after[table] - live)[:5]}, of them existing throughout:"
        f" {sorted((after[table] & before[table]) - live)[:5]}; events {events}"
    )
    assert live <= after[table] | deleted_mid_scan, f"extra {sorted(live - after[table])[:5]}"
    assert inserted <= live and before[table] & after[table] <= live
    assert not set(gone) & live
    assert set(gone) <= set(warehouse_rows(engine, ACCOUNT, table, active=False))
    # Exact calls: the minimum, the repair reads, the confirmations of the rows gone before.
    calls = sum(r["count"] for r in sim.transactions()) - calls_before
    # (A row deleted before the sync: a detail 404 each, or a re-scan of its link's object.)
    expected = minimum + REPAIRS[pattern] + len(gone)
    assert (report.calls, calls) == (expected, expected), (report.calls, expected)
    assert ledger_by_key(engine) == sim_by_key(sim)
    scan = next(r for r in report.resources if r.resource in (table, "osapuolet"))
    assert scan.status == "success" and scan.scopes_incomplete == 0

    # The next full scan soft-deletes the rows read and then deleted: warehouse == API.
    admin.put("/_sim/faults", json={})
    assert sync(engine, sim).ok
    assert_parity(engine, sim, ACCOUNT)
    assert not set(warehouse_rows(engine, ACCOUNT, table)) & deleted_mid_scan


@pytest.mark.parametrize("style", [NOTICES, LINKS, OBJECTS], ids=lambda s: s.name)
def test_a_drift_it_cannot_repair_marks_the_resource_incomplete(engine, style):
    """max_drift_passes 1 leaves no repair read: the gap stays, and so do the rows."""
    sim = build_world(style)
    admin = Admin(sim)
    assert sync(engine, sim).ok
    gone = delete_before_sync(sim, style)
    drift(admin, style, "delete_read")
    report = sync(engine, sim, dataclasses.replace(SETTINGS, max_drift_passes=1))
    assert not report.ok
    resource = "osapuolet" if style is LINKS else style.table
    scan = report.resource(resource)
    assert (scan.status, scan.scopes_incomplete) == ("incomplete", 1)
    assert "none were deleted" in (scan.error or "")
    assert [r.status for r in report.resources if r.resource != resource] == ["success"] * 3
    # Nothing is deleted on an unproven scan: the rows gone before it stay live for now.
    assert set(gone) <= set(warehouse_rows(engine, ACCOUNT, style.table))
    assert not warehouse_rows(engine, ACCOUNT, style.table, active=False)
    # In Dagster the materialisation says so.
    assert sync_metadata(scan, None)["warning"].text.startswith("incomplete: a list changed")
    # ... and the asset's row-count check fails with the run's sentence.
    with engine.connect() as conn:
        outcome = check_queries.row_count_matches_api_total(conn, ACCOUNT, resource)
    assert not outcome.passed and outcome.metadata["status"] == "incomplete"
    assert outcome.description == scan.error
