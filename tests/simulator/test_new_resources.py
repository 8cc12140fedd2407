"""The generic resources of tampuuri-api.md section 9 (leases, inspections, maintenance-log
tasks) and `avaimet`, served over real HTTP (`serve_in_thread`): paging and Total, the
MuokattuAlku and KohdeId filters, detail 404 after a delete, the per-cost-centre fan-out,
webhooks, exact decimals, and the built-in resources' data exactly as before."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.config import RESOURCES
from pipelines.simulator.server import serve_in_thread
from pipelines.tampuuri import json_codec

from .helpers import API, Receiver

# sha256 of sim.items(..., visible_only=False) over the five built-in resources for
# seed=1, scale=300, accounts demo-a and demo-b, computed on the code before the generic
# resources existed; then of random_changes("demo-a", 50, seed=3) and the data after it.
BUILT_IN_DATA = "26c1a7e53886cc5caef55865ee3306aa30a5ed30baaf6f4645efb95d32a4aa41"
RANDOM_CHANGES = "49611b069f152097f877390fffa11ef217f9dc5a250e9e2ee4e932e7068ba940"
DATA_AFTER_CHANGES = "f1404ccd873fb500c026e6e853bc3d1e351ca96f2767137cf2f592aaa751d8bd"
NEW = ("vuokrasopimukset", "asuntotarkastukset", "huoltokirjan_tehtavat", "avaimet")


def _fixed_clock() -> datetime:
    return datetime(2025, 9, 1, 12, tzinfo=UTC)


def _digest(sim: Simulator) -> str:
    h = hashlib.sha256()
    for account in sim.accounts:
        for resource in RESOURCES:
            h.update(json_codec.encode(sim.items(account, resource, visible_only=False)))
    return h.hexdigest()


@pytest.fixture
def served() -> Iterator[tuple[Simulator, httpx.Client, httpx.Client, Receiver]]:
    receiver = Receiver(200)
    config = SimulatorConfig(seed=1, scale=600, accounts=("demo-a", "demo-b"),
                             webhook_retry_delays_s=(0.0,), webhook_interval_s=0.05)  # fmt: skip
    sim = Simulator(config, webhook_transport=receiver.transport())
    with serve_in_thread(sim) as base:
        headers = sim.credentials("demo-a").headers()
        with (
            httpx.Client(base_url=base, headers=headers, timeout=10) as api,
            httpx.Client(base_url=base, timeout=10) as admin,
        ):
            yield sim, api, admin, receiver


def _page(api: httpx.Client, path: str, **params: object) -> dict:
    r = api.get(API + path, params=params)
    assert r.status_code == 200, r.text
    return json_codec.decode(r.content)


def _scan(api: httpx.Client, path: str, limit: int = 7, **params: object) -> list[dict]:
    items: list[dict] = []
    while True:
        page = _page(api, path, Offset=len(items), Limit=limit, **params)
        items.extend(page["Items"])
        if not page["Items"]:
            assert len(items) == page["Total"]
            return items


def test_built_in_data_and_random_changes_unchanged():
    sim = Simulator(SimulatorConfig(seed=1, scale=300, accounts=("demo-a", "demo-b")),
                    clock=_fixed_clock)  # fmt: skip
    for resource in NEW:  # generating the new resources first must not disturb the others
        assert sim.items("demo-a", resource)
    assert _digest(sim) == BUILT_IN_DATA
    results = sim.random_changes("demo-a", 50, seed=3)
    made = [(r.resource, r.op, r.id, r.notifications) for r in results]
    assert hashlib.sha256(repr(made).encode()).hexdigest() == RANDOM_CHANGES
    assert _digest(sim) == DATA_AFTER_CHANGES


def test_deterministic_sizes_and_separate_ids():
    one = Simulator(SimulatorConfig(seed=1, scale=600))
    two = Simulator(SimulatorConfig(seed=1, scale=600))
    apartments = [o for o in one.items("demo-a", "kohteet") if o["Metaname"] == "huoneisto"]
    cost_centres = one.items("demo-a", "kustannuspaikat")
    ids: set[int] = set()
    for resource in NEW:
        rows = one.items("demo-a", resource)
        assert rows == two.items("demo-a", resource)
        assert [r["Id"] for r in rows] == sorted(r["Id"] for r in rows)
        ids |= {r["Id"] for r in rows}
    assert len(ids) == sum(len(one.items("demo-a", r)) for r in NEW)  # no shared ids
    leased = {r["KohdeId"] for r in one.items("demo-a", "vuokrasopimukset")}
    assert 0.4 < len(leased) / len(apartments) < 0.8
    tasks = one.items("demo-a", "huoltokirjan_tehtavat")
    per_cc = {cc["Id"]: sum(t["KohdeId"] == cc["Id"] for t in tasks) for cc in cost_centres}
    assert all(3 <= n <= 8 for n in per_cc.values())
    inspections = one.items("demo-a", "asuntotarkastukset")
    assert all(0 <= len(i["Huomiot"]) <= 4 for i in inspections)


def test_lists_page_with_total_and_filters(served):
    sim, api, _, _ = served
    for resource, path in (("vuokrasopimukset", "vuokrasopimukset/selaa"),
                           ("asuntotarkastukset", "asuntotarkastukset/selaa"),
                           ("avaimet", "avaimet/selaa")):  # fmt: skip
        expected = sim.items("demo-a", resource)
        assert len(expected) > 7
        assert _scan(api, path) == expected
        page = _page(api, path, Offset=0, Limit=0)
        assert page["Total"] == len(expected) and page["Items"] == []
        kohde = expected[0]["KohdeId"]
        by_kohde = [r for r in expected if r["KohdeId"] == kohde]
        assert _scan(api, path, KohdeId=kohde) == by_kohde
        middle = sorted(r["Muokattu"] for r in expected)[len(expected) // 2]
        since = _scan(api, path, MuokattuAlku=middle)
        assert since == [r for r in expected if r["Muokattu"] >= middle]
        assert 0 < len(since) < len(expected)
        assert api.get(API + path, params={"MuokattuAlku": "eilen"}).status_code == 400


def test_lease_fields_and_exact_decimals(served):
    sim, api, _, _ = served
    leases = _scan(api, "vuokrasopimukset/selaa", limit=250)
    apartments = {o["Id"] for o in sim.items("demo-a", "kohteet") if o["Metaname"] == "huoneisto"}
    for lease in leases:
        assert set(lease) == {"Id", "KohdeId", "OsapuoliId", "Alkupvm", "Loppupvm", "Vuokra",
                              "Vakuus", "Tila", "Muokattu"}  # fmt: skip
        assert lease["KohdeId"] in apartments and len(lease["Alkupvm"]) == 10
        assert len(lease["Muokattu"].split(".")[1].split("+")[0]) == 7
    rents = [lease["Vuokra"] for lease in leases]
    long_digits = [v for v in rents if isinstance(v, Decimal) and len(v.as_tuple().digits) >= 28]
    assert long_digits, "some rents carry a .NET division's 28-29 digits"
    raw = api.get(API + "vuokrasopimukset/selaa", params={"Limit": 250}).content
    assert str(long_digits[0]).encode() in raw  # digit for digit on the wire


def test_detail_and_404_after_delete(served):
    sim, api, admin, _ = served
    for resource in ("vuokrasopimukset", "asuntotarkastukset"):
        row = sim.items("demo-a", resource)[3]
        r = api.get(f"{API}{resource}/{row['Id']}")
        assert r.status_code == 200 and json_codec.decode(r.content) == row
        r = admin.post("/_sim/changes", json={"account": "demo-a", "resource": resource,
                                              "op": "delete", "id": row["Id"]})  # fmt: skip
        assert r.status_code == 200, r.text
        assert api.get(f"{API}{resource}/{row['Id']}").status_code == 404
        assert api.get(f"{API}{resource}/999").status_code == 404
        assert row["Id"] not in {x["Id"] for x in _scan(api, f"{resource}/selaa", limit=250)}
    assert api.get(API + "avaimet/1").status_code == 404  # no detail route


def test_tasks_fan_out_per_cost_centre(served):
    sim, api, _, _ = served
    tasks = sim.items("demo-a", "huoltokirjan_tehtavat")
    cost_centres = [cc["Id"] for cc in sim.items("demo-a", "kustannuspaikat")]
    found: list[dict] = []
    for cc in cost_centres:
        url = f"{API}huoltokirja/{cc}/tehtavat/selaa"
        page = json_codec.decode(api.post(url, json={"Offset": 0, "Limit": 2}).content)
        rest = json_codec.decode(api.post(url, json={"Offset": 2, "Limit": 250}).content)
        assert page["Total"] == rest["Total"] == len(page["Items"]) + len(rest["Items"])
        assert all(t["KohdeId"] == cc for t in page["Items"] + rest["Items"])
        found += page["Items"] + rest["Items"]
    assert sorted(found, key=lambda t: t["Id"]) == tasks
    apartment = next(o["Id"] for o in sim.items("demo-a", "kohteet"))
    r = api.post(f"{API}huoltokirja/{apartment}/tehtavat/selaa", json={})
    assert r.status_code == 404  # not a cost centre, as kohteet/{id}/selaa answers
    assert api.get(f"{API}huoltokirja/{cost_centres[0]}/tehtavat/selaa").status_code == 405
    calls = [t for t in sim.transactions("demo-a")
             if t["route"] == "huoltokirja/{kohde_id}/tehtavat/selaa"]  # fmt: skip
    assert sum(t["count"] for t in calls) == 2 * len(cost_centres) + 1  # the 405 is (unknown)


def _wait_for(receiver: Receiver, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        notes = [n for b in receiver.bundles for n in b["Notifications"]]
        if len(notes) >= count:
            return notes
        time.sleep(0.05)
    raise AssertionError(f"only {receiver.bundles} arrived")


def test_changes_queue_webhooks(served):
    sim, api, admin, receiver = served
    r = admin.post("/_sim/webhooks/listeners", json={"account": "demo-a", "url": "http://h/in"})
    assert r.status_code == 201
    apartment = next(
        o["Id"] for o in sim.items("demo-a", "kohteet") if o["Metaname"] == "huoneisto"
    )
    lease = sim.apply_change("demo-a", "vuokrasopimukset", "insert", fields={"KohdeId": apartment})
    sim.apply_change("demo-a", "vuokrasopimukset", "update", id=lease.id, fields={"Vuokra": 900})
    ended = admin.post("/_sim/changes", json={"account": "demo-a", "resource": "vuokrasopimukset",
                                              "op": "update", "id": lease.id})  # fmt: skip
    assert ended.json()["notifications"] == 1  # the default update ends the lease
    inspection = sim.items("demo-a", "asuntotarkastukset")[0]
    sim.apply_change("demo-a", "asuntotarkastukset", "update", id=inspection["Id"])
    new = sim.apply_change("demo-a", "asuntotarkastukset", "insert")
    key = sim.apply_change("demo-a", "avaimet", "insert", fields={"Lukumaara": 7})
    assert key.notifications == []
    notes = _wait_for(receiver, 4)
    got = [(n["Action"], n["ReferenceId"], n["ReferenceSecondaryId"]) for n in notes]
    new_row = next(i for i in sim.items("demo-a", "asuntotarkastukset") if i["Id"] == new.id)
    assert got == [("SopimusUusi", lease.id, apartment), ("SopimusPaattyi", lease.id, apartment),
                   ("AsuntotarkastusTilamuutos", inspection["Id"], inspection["KohdeId"]),
                   ("AsuntotarkastusUusi", new.id, new_row["KohdeId"])]  # fmt: skip
    detail = json_codec.decode(api.get(f"{API}vuokrasopimukset/{lease.id}").content)
    assert detail["Vuokra"] == 900 and detail["Loppupvm"] is not None
    assert detail["Tila"] == "Päättynyt"
    state = admin.get("/_sim/state/demo-a/avaimet").json()["Items"]
    assert any(k["Id"] == key.id and k["Lukumaara"] == 7 for k in state)


def test_rights_and_forbidden_cost_centres():
    sim = Simulator(SimulatorConfig(seed=1, scale=600, forbidden_share=0.3))
    forbidden = set(sim.forbidden_cost_centres("demo-a"))
    headers = sim.credentials("demo-a").headers()
    with serve_in_thread(sim) as base, httpx.Client(base_url=base, headers=headers) as api:
        cc = next(iter(forbidden))
        r = api.post(f"{API}huoltokirja/{cc}/tehtavat/selaa", json={})
        assert r.status_code == 403
        visible = _scan(api, "vuokrasopimukset/selaa", limit=250)
        assert visible == sim.items("demo-a", "vuokrasopimukset")
        hidden = sim.items("demo-a", "vuokrasopimukset", visible_only=False)
        assert len(hidden) > len(visible)
        role = dict(sim.role("demo-a"))
        role.pop("avaimet/selaa")
        sim.set_role("demo-a", role)
        assert api.get(API + "avaimet/selaa").status_code == 403


def test_random_changes_reach_the_new_resources_only_when_asked(served):
    sim, api, admin, _ = served
    before = {r: sim.items("demo-a", r) for r in NEW}
    r = admin.post("/_sim/changes/random", json={"account": "demo-a", "count": 40, "seed": 5})
    assert all(c["resource"] in RESOURCES for c in r.json()["changes"])
    assert {r: sim.items("demo-a", r) for r in NEW} == before
    body = {"account": "demo-a", "count": 80, "seed": 5, "generic": True}
    changes = admin.post("/_sim/changes/random", json=body).json()["changes"]
    touched = {c["resource"] for c in changes} & set(NEW)
    assert touched and len(changes) == 80
    for resource in touched:
        assert sim.items("demo-a", resource) != before[resource]
    leases = _scan(api, "vuokrasopimukset/selaa", limit=250)
    assert leases == sim.items("demo-a", "vuokrasopimukset")
