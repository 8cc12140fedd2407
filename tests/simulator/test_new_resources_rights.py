"""Role rights, object rights and the transaction report on the generic routes, over HTTP.

An account's role (`SimulatorConfig.roles`) can withhold Hae on any generic route, list or
detail alone; a filter or detail naming a forbidden cost centre's object answers 403; every
call, refused or not, is counted under its route template; route match comes first (an
unknown id path of a route without detail is a 404 `(unknown)`, never a 403).
"""

from __future__ import annotations

import httpx

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.config import default_role
from pipelines.simulator.server import serve_in_thread
from pipelines.tampuuri import json_codec

from .helpers import API


def _counts(sim: Simulator) -> dict[tuple[str, str, int], int]:
    return {(t["method"], t["route"], t["status"]): t["count"] for t in sim.transactions("demo-a")}


def test_a_role_withholding_generic_routes():
    role = default_role()
    for template in ("vuokrasopimukset/{id}", "huoltokirja/{kohde_id}/tehtavat/selaa"):
        del role[template]
    role["asuntotarkastukset/selaa"] = frozenset({"Lisää"})  # a right, but not Hae
    config = SimulatorConfig(seed=4, scale=300, accounts=("demo-a",), roles={"demo-a": role})
    sim = Simulator(config)
    lease = sim.items("demo-a", "vuokrasopimukset")[0]["Id"]
    cc = sim.items("demo-a", "kustannuspaikat")[0]["Id"]
    with (
        serve_in_thread(sim) as base,
        httpx.Client(base_url=base, headers=sim.credentials("demo-a").headers()) as api,
    ):
        assert api.get(API + "vuokrasopimukset/selaa").status_code == 200  # the list is kept
        assert api.get(f"{API}vuokrasopimukset/{lease}").status_code == 403
        assert api.get(API + "asuntotarkastukset/selaa").status_code == 403
        assert api.get(API + "asuntotarkastukset/1").status_code == 404  # detail kept: unknown
        r = api.post(f"{API}huoltokirja/{cc}/tehtavat/selaa", json={})
        assert r.status_code == 403 and "Message" in r.json()
        assert api.get(API + "avaimet/1").status_code == 404  # no such route
        assert api.get(API + "avaimet/selaa").status_code == 200
    assert _counts(sim) == {
        ("GET", "vuokrasopimukset/selaa", 200): 1,
        ("GET", "vuokrasopimukset/{id}", 403): 1,
        ("GET", "asuntotarkastukset/selaa", 403): 1,
        ("GET", "asuntotarkastukset/{id}", 404): 1,
        ("POST", "huoltokirja/{kohde_id}/tehtavat/selaa", 403): 1,
        ("GET", "(unknown)", 404): 1,
        ("GET", "avaimet/selaa", 200): 1,
    }


def test_object_rights_on_filters_and_details():
    sim = Simulator(SimulatorConfig(seed=4, scale=600, accounts=("demo-a",), forbidden_share=0.3))
    forbidden = set(sim.forbidden_cost_centres("demo-a"))
    hidden = [
        r
        for r in sim.items("demo-a", "asuntotarkastukset", visible_only=False)
        if sim.store("demo-a").cc_of_object(r["KohdeId"]) in forbidden
    ]
    assert hidden
    with (
        serve_in_thread(sim) as base,
        httpx.Client(base_url=base, headers=sim.credentials("demo-a").headers()) as api,
    ):
        row = hidden[0]
        assert api.get(f"{API}asuntotarkastukset/{row['Id']}").status_code == 403
        r = api.get(API + "asuntotarkastukset/selaa", params={"KohdeId": row["KohdeId"]})
        assert r.status_code == 403
        page = json_codec.decode(api.get(API + "asuntotarkastukset/selaa").content)
        assert page["Total"] == len(sim.items("demo-a", "asuntotarkastukset"))
        assert row["Id"] not in {i["Id"] for i in page["Items"]}
        assert api.get(API + "vuokrasopimukset/selaa", params={"KohdeId": "x"}).status_code == 400
