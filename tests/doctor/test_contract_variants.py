"""The simulator's contract variants: each breaks exactly its one [ASSUMED] fact.

The doctor's tests trust these variants to contradict the contract; these tests prove each
does, and that "standard" serves the contract unchanged.
"""

from __future__ import annotations

import httpx
import pytest

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.tampuuri import json_codec

API = "/v10/api/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=3, scale=900))


@pytest.fixture
async def api(sim: Simulator):
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app),
        base_url="http://sim",
        headers=sim.credentials("demo-a").headers(),
    ) as client:
        yield client


async def _page(api: httpx.AsyncClient, path: str, **params: object) -> dict:
    answer = await api.get(API + path, params=params)
    assert answer.status_code == 200, answer.text
    return json_codec.decode(answer.content)


async def _choose(api: httpx.AsyncClient, variant: str) -> None:
    answer = await api.put("/_sim/contract", json={"variant": variant})
    assert answer.status_code == 200, answer.text
    assert answer.json()["variant"] == variant


@pytest.mark.anyio
async def test_standard_serves_the_contract(api):
    page = await _page(api, "osapuolet/yhteydet/selaa", Limit=1000)
    ids = [i["Id"] for i in page["Items"]]
    assert page["Limit"] == 250 and len(ids) == 250 and ids == sorted(ids)
    again = await _page(api, "osapuolet/yhteydet/selaa", Limit=1)
    assert again["Total"] == page["Total"]


@pytest.mark.anyio
async def test_each_variant_breaks_its_assumption(api, sim):
    await _choose(api, "descending_ids")
    ids = [i["Id"] for i in (await _page(api, "ilmoitukset/selaa"))["Items"]]
    assert ids == sorted(ids, reverse=True)

    await _choose(api, "limit_clamp_100")
    page = await _page(api, "osapuolet/yhteydet/selaa", Limit=251)
    assert page["Limit"] == 100 and len(page["Items"]) == 100

    await _choose(api, "limit_rejected")
    refused = await api.get(API + "osapuolet/yhteydet/selaa", params={"Limit": 251})
    assert refused.status_code == 400
    assert (await _page(api, "osapuolet/yhteydet/selaa", Limit=250))["Limit"] == 250

    await _choose(api, "since_exclusive")
    row = sim.items("demo-a", "ilmoitukset")[0]
    at = await _page(api, "ilmoitukset/selaa", MuokattuAlku=row["Muokattu"])
    assert row["Id"] not in [i["Id"] for i in at["Items"]]

    await _choose(api, "total_unstable")
    totals = [(await _page(api, "kustannuspaikat/selaa", Limit=1))["Total"] for _ in range(3)]
    assert totals[0] != totals[1] != totals[2]

    await _choose(api, "since_ignored")
    everything = await _page(api, "ilmoitukset/selaa", Limit=1)
    since = await _page(api, "ilmoitukset/selaa", Limit=1, MuokattuAlku="2999-01-01T00:00:00")
    assert since["Total"] == everything["Total"] > 0

    await _choose(api, "scope_ignored")
    cc = sim.items("demo-a", "ilmoitukset")[0]["KustannuspaikkaId"]
    scoped = await _page(api, "ilmoitukset/selaa", Limit=1, KustannuspaikkaId=cc)
    assert scoped["Total"] == everything["Total"]

    await _choose(api, "deleted_found")
    gone = await api.get(API + "ilmoitukset/999999999")
    assert gone.status_code == 200 and gone.json()["Id"] == 999999999
    assert (await api.get(API + "kohteet/999999999")).status_code == 200

    await _choose(api, "batch_limit_100")
    body = {"OsapuoliIdt": list(range(1, 102))}
    refused = await api.post(API + "osapuolitiedot/osapuolet/hae", json=body)
    assert refused.status_code == 400 and "At most 100" in refused.json()["Message"]

    await _choose(api, "standard")
    assert (await api.get(API + "ilmoitukset/999999999")).status_code == 404


@pytest.mark.anyio
async def test_an_unknown_variant_is_refused_by_name(api, sim):
    answer = await api.put("/_sim/contract", json={"variant": "upside_down"})
    assert answer.status_code == 400
    assert "upside_down" in answer.json()["error"] and "descending_ids" in answer.json()["known"]
    assert sim.contract.variant == "standard"
    with pytest.raises(ValueError, match="upside_down"):
        Simulator(SimulatorConfig(scale=50, contract="upside_down"))
