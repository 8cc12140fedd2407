"""The generic resources under paging drift and the lease's ended state, over real HTTP.

A generic list drifts only when `drift_resources` names it (so drifting scans of the
built-in lists meet exactly what they did before the generic resources existed); then its
drift is a real change like the built-ins': a deleted row leaves the list and its detail
answers 404, an inserted one lands after the cursor (in the scanned cost centre for the
fan-out). A lease update that sets only `Loppupvm` ends it: `Tila` follows and
`SopimusPaattyi` is sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.tampuuri import json_codec

from .helpers import API

LEASES = "vuokrasopimukset/selaa"


@pytest.fixture
def served() -> Iterator[tuple[Simulator, httpx.Client, httpx.Client]]:
    sim = Simulator(SimulatorConfig(seed=2, scale=600, accounts=("demo-a",)))
    with serve_in_thread(sim) as base:
        headers = sim.credentials("demo-a").headers()
        with (
            httpx.Client(base_url=base, headers=headers, timeout=10) as api,
            httpx.Client(base_url=base, timeout=10) as admin,
        ):
            yield sim, api, admin


def _drift(admin: httpx.Client, pattern: str, resources: list[str]) -> None:
    settings = {"drift_rate": 1.0, "drift_patterns": [pattern], "drift_resources": resources,
                "drift_max": 1}  # fmt: skip
    r = admin.put("/_sim/faults", json=settings)
    assert r.status_code == 200, r.text


def _page(api: httpx.Client, offset: int, limit: int = 10) -> dict:
    r = api.get(API + LEASES, params={"Offset": offset, "Limit": limit})
    assert r.status_code == 200, r.text
    return json_codec.decode(r.content)


def _events(admin: httpx.Client) -> list[dict]:
    return admin.get("/_sim/drift").json()["events"]


def test_a_named_generic_list_drifts_delete_read(served):
    sim, api, admin = served
    _drift(admin, "delete_read", ["vuokrasopimukset"])
    first = _page(api, 0)
    second = _page(api, 10)
    [event] = _events(admin)
    assert event["resource"] == "vuokrasopimukset" and event["op"] == "delete"
    assert event["offset"] == 10 and event["id"] in {r["Id"] for r in first["Items"]}
    assert second["Total"] == first["Total"] - 1
    # The row at the boundary slipped back before Offset 10: the second page starts one later.
    assert second["Items"][0] == sim.items("demo-a", "vuokrasopimukset")[10]
    assert api.get(f"{API}vuokrasopimukset/{event['id']}").status_code == 404
    assert _page(api, 20)["Total"] == second["Total"]  # drift_max 1: no more drift


def test_the_task_fan_out_drifts_inside_its_cost_centre(served):
    sim, api, admin = served
    _drift(admin, "insert_after_cursor", ["huoltokirjan_tehtavat"])
    cc = sim.items("demo-a", "kustannuspaikat")[0]["Id"]
    url = f"{API}huoltokirja/{cc}/tehtavat/selaa"
    first = json_codec.decode(api.post(url, json={"Offset": 0, "Limit": 2}).content)
    rest = json_codec.decode(api.post(url, json={"Offset": 2, "Limit": 250}).content)
    [event] = _events(admin)
    assert event["resource"] == "huoltokirjan_tehtavat" and event["scope"] == cc
    assert rest["Total"] == first["Total"] + 1
    assert rest["Items"][-1]["Id"] == event["id"] and rest["Items"][-1]["KohdeId"] == cc


def test_delete_and_insert_keeps_the_total(served):
    sim, api, admin = served
    _drift(admin, "delete_and_insert", ["asuntotarkastukset"])
    path = API + "asuntotarkastukset/selaa"
    first = json_codec.decode(api.get(path, params={"Limit": 5}).content)
    second = json_codec.decode(api.get(path, params={"Offset": 5, "Limit": 5}).content)
    assert [e["op"] for e in _events(admin)] == ["delete", "insert"]
    assert second["Total"] == first["Total"]
    assert sim.items("demo-a", "asuntotarkastukset")[-1]["Id"] == _events(admin)[1]["id"]


def test_generic_lists_do_not_drift_unless_named(served):
    sim, api, admin = served
    r = admin.put("/_sim/faults", json={"drift_rate": 1.0, "drift_max": 5})
    assert r.status_code == 200, r.text
    before = sim.items("demo-a", "vuokrasopimukset")
    assert _page(api, 10)["Total"] == len(before)
    cc = sim.items("demo-a", "kustannuspaikat")[0]["Id"]
    api.post(f"{API}huoltokirja/{cc}/tehtavat/selaa", json={"Offset": 2})
    assert _events(admin) == [] and sim.items("demo-a", "vuokrasopimukset") == before
    r = admin.put("/_sim/faults", json={"drift_resources": ["vuokrasopimukset", "nope"]})
    assert r.status_code == 400 and "nope" in r.text


def test_ending_a_lease_by_its_end_date_sets_the_state_and_sends_paattyi(served):
    sim, api, _ = served
    lease = next(r for r in sim.items("demo-a", "vuokrasopimukset") if r["Loppupvm"] is None)
    assert lease["Tila"] == "Voimassa"
    ended = sim.apply_change("demo-a", "vuokrasopimukset", "update", id=lease["Id"],
                             fields={"Loppupvm": "2025-09-30"})  # fmt: skip
    [note] = ended.notifications
    assert (note["Action"], note["ReferenceId"], note["ReferenceSecondaryId"]) == (
        "SopimusPaattyi", lease["Id"], lease["KohdeId"],
    )  # fmt: skip
    detail = json_codec.decode(api.get(f"{API}vuokrasopimukset/{lease['Id']}").content)
    assert detail["Tila"] == "Päättynyt" and detail["Loppupvm"] == "2025-09-30"
    assert detail["Muokattu"] > lease["Muokattu"]
    # A rent change alone is no ended contract: no webhook.
    raised = sim.apply_change("demo-a", "vuokrasopimukset", "update", id=lease["Id"],
                              fields={"Vuokra": 1234})  # fmt: skip
    assert raised.notifications == []


def test_an_inspection_state_change_may_rewrite_its_remarks(served):
    sim, api, _ = served
    rewritten = 0
    for inspection in sim.items("demo-a", "asuntotarkastukset")[:20]:
        result = sim.apply_change("demo-a", "asuntotarkastukset", "update", id=inspection["Id"])
        [note] = result.notifications
        assert note["Action"] == "AsuntotarkastusTilamuutos"
        assert note["ReferenceSecondaryId"] == inspection["KohdeId"]
        detail = json_codec.decode(api.get(f"{API}asuntotarkastukset/{inspection['Id']}").content)
        assert detail["Tila"] != inspection["Tila"] or inspection["Tila"] == "Kuitattu"
        assert 0 <= len(detail["Huomiot"]) <= 4
        rewritten += detail["Huomiot"] != inspection["Huomiot"]
    assert 0 < rewritten < 20
