"""Contract of the simulated API routes (section 7 of tampuuri-api.md): envelope, paging
edges, filters, case-insensitive paths and keys, error bodies, dates, notice creation."""

from __future__ import annotations

import re

import pytest

from pipelines.simulator.dates import parse_ticks
from pipelines.tampuuri import json_codec

from .helpers import API, scan

pytestmark = pytest.mark.anyio
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}\+0[23]:00$")


async def test_envelope_and_ascending_ids(sim, client):
    r = await client.get(API + "kustannuspaikat/selaa", params={"Offset": 0, "Limit": 250})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["Offset", "Limit", "Total", "Items"]
    assert (body["Offset"], body["Limit"], body["Total"]) == (0, 250, 3)
    ids = [item["Id"] for item in body["Items"]]
    assert ids == sorted(ids) == [row["Id"] for row in sim.items("demo-a", "kustannuspaikat")]


@pytest.mark.parametrize(
    ("limit", "offset", "echo_limit", "count"),
    [
        (0, 0, 0, 0),
        (250, 0, 250, 72),
        (251, 0, 250, 72),
        (10, 70, 10, 2),
        (10, 72, 10, 0),
        (5, 999, 5, 0),
    ],
)
async def test_paging_edges(client, limit, offset, echo_limit, count):
    r = await client.get(
        API + "osapuolet/yhteydet/selaa", params={"Limit": limit, "Offset": offset}
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["Offset"], body["Limit"], body["Total"], len(body["Items"])) == (
        offset, echo_limit, 72, count
    )  # fmt: skip


async def test_two_pages_exactly_cover_the_list(sim, client):
    first = (await client.get(API + "osapuolet/yhteydet/selaa", params={"Limit": 50})).json()
    second = (
        await client.get(API + "osapuolet/yhteydet/selaa", params={"Limit": 50, "Offset": 50})
    ).json()
    ids = [i["Id"] for i in first["Items"] + second["Items"]]
    assert ids == [row["Id"] for row in sim.items("demo-a", "osapuoli_yhteydet")]


@pytest.mark.parametrize(
    ("key", "value"), [("Offset", "-1"), ("Limit", "-5"), ("Limit", "abc"), ("Offset", "1.5")]
)
async def test_bad_paging_values_are_400(client, key, value):
    r = await client.get(API + "kustannuspaikat/selaa", params={key: value})
    assert r.status_code == 400
    assert key in r.json()["Message"]


async def test_body_paging_and_metaname_filter(sim, client):
    cc = sim.items("demo-a", "kustannuspaikat")[0]["Id"]
    expected = [o for o in sim.items("demo-a", "kohteet") if o["KustannuspaikkaId"] == cc]
    r = await client.post(API + f"kohteet/{cc}/selaa", json={"offset": 0, "LIMIT": 251})
    body = json_codec.decode(r.content)
    assert (body["Limit"], body["Total"]) == (250, len(expected))
    assert body["Items"] == expected
    assert all(o["Id"] != cc and o["KustannuspaikkaId"] == cc for o in body["Items"])
    apartments = (
        await client.post(API + f"kohteet/{cc}/selaa", json={"Metanimet": ["huoneisto"]})
    ).json()
    assert apartments["Total"] == sum(o["Metaname"] == "huoneisto" for o in expected) > 0
    assert (await client.post(API + f"kohteet/{cc}/selaa", json={"Offset": -1})).status_code == 400
    assert (await client.post(API + f"kohteet/{cc}/selaa", content=b"{nope")).status_code == 400
    assert (await client.post(API + "kohteet/999/selaa", json={})).status_code == 404


async def test_cost_centre_is_an_object(sim, client):
    cc = sim.items("demo-a", "kustannuspaikat")[0]
    r = await client.get(API + f"kohteet/{cc['Id']}")
    assert r.status_code == 200
    record = r.json()
    assert (record["Metaname"], record["KustannuspaikkaId"], record["ParentId"]) == (
        "kustannuspaikka", cc["Id"], None
    )  # fmt: skip
    assert record["Nimi"] == cc["Nimi"]


async def test_case_insensitive_paths_and_query_keys(client):
    a = (await client.get(API + "Kustannuspaikat/Selaa", params={"LIMIT": 1, "offset": 1})).json()
    b = (
        await client.get("/V10/API/kustannuspaikat/selaa", params={"Limit": 1, "Offset": 1})
    ).json()
    assert a == b and a["Limit"] == 1 and len(a["Items"]) == 1


async def test_unknown_ids_and_routes_are_404_with_message(client):
    for path in ("kohteet/12345678", "ilmoitukset/1", "nothing/here", "kohteet/abc"):
        r = await client.get(API + path)
        assert r.status_code == 404, path
        assert isinstance(r.json()["Message"], str)
    r = await client.post(API + "kustannuspaikat/selaa")
    assert r.status_code == 405


async def test_dates_have_seven_digits_and_helsinki_offset(sim, client):
    notices = await scan(client, "ilmoitukset/selaa")
    stamps = [n["Muokattu"] for n in notices] + [n["Luotu"] for n in notices]
    objects = sim.items("demo-a", "kohteet")
    stamps += [o["Muokattu"] for o in objects]
    assert all(DATE.match(s) for s in stamps)
    offsets = {s[-6:] for s in stamps}
    assert offsets == {"+02:00", "+03:00"}  # winter and summer time both occur
    links = sim.items("demo-a", "osapuoli_yhteydet")
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00", link["Alkupvm"]) for link in links)
    assert any(link["Loppupvm"] is None for link in links)


async def test_muokattu_alku_filter(sim, client):
    notices = sim.items("demo-a", "ilmoitukset")
    pivot = sorted(n["Muokattu"] for n in notices)[len(notices) // 2]
    expected = [n for n in notices if parse_ticks(n["Muokattu"]) >= parse_ticks(pivot)]
    got = await scan(client, "ilmoitukset/selaa", MuokattuAlku=pivot)
    assert got == expected and 0 < len(got) < len(notices)
    # Without an offset the value is Helsinki time; "Z" is UTC. Both parse.
    utc = await scan(client, "ilmoitukset/selaa", muokattualku="2000-01-01T00:00:00Z")
    assert len(utc) == len(notices)
    assert len(await scan(client, "ilmoitukset/selaa", MuokattuAlku="2100-01-01")) == 0
    r = await client.get(API + "ilmoitukset/selaa", params={"MuokattuAlku": "eilen"})
    assert r.status_code == 400 and "MuokattuAlku" in r.json()["Message"]
    ccs = await scan(client, "kustannuspaikat/selaa", MuokattuAlku="2100-01-01")
    assert ccs == []


async def test_notice_cost_centre_filter_and_detail(sim, client):
    notices = sim.items("demo-a", "ilmoitukset")
    cc = notices[0]["KustannuspaikkaId"]
    got = await scan(client, "ilmoitukset/selaa", KustannuspaikkaId=cc)
    assert got == [n for n in notices if n["KustannuspaikkaId"] == cc]
    detail = await client.get(API + f"ilmoitukset/{notices[0]['Id']}")
    assert json_codec.decode(detail.content) == notices[0]


async def test_links_filter_and_nested_party_equals_batch_route(sim, client):
    links = sim.items("demo-a", "osapuoli_yhteydet")
    kohde = links[0]["KohdeId"]
    filtered = await scan(client, "osapuolet/yhteydet/selaa", KohdeId=kohde)
    assert filtered == [link for link in links if link["KohdeId"] == kohde]
    ids = sorted({link["OsapuoliId"] for link in links})
    r = await client.post(API + "osapuolitiedot/osapuolet/hae", json={"OsapuoliIdt": [*ids, 1]})
    assert r.status_code == 200
    parties = {p["Id"]: p for p in r.json()}
    assert sorted(parties) == ids  # the unknown id 1 is simply absent
    for link in links:
        assert link["Osapuoli"] == parties[link["OsapuoliId"]]
        assert set(link) >= {"Id", "OsapuoliId", "KohdeId", "Rooli", "Alkupvm", "Loppupvm"}


async def test_batch_route_limits(client):
    route = API + "osapuolitiedot/osapuolet/hae"
    assert (await client.post(route, json={"OsapuoliIdt": list(range(251))})).status_code == 400
    assert (await client.post(route, json={"OsapuoliIdt": list(range(250))})).status_code == 200
    r = await client.post(route, json={})
    assert r.status_code == 400 and "OsapuoliIdt" in r.json()["ModelState"]


async def test_create_notice(sim, client):
    cc = sim.items("demo-a", "kustannuspaikat")[1]["Id"]
    r = await client.post(API + "ilmoitukset/lisaa", json={"Otsikko": "Ei KustannuspaikkaId"})
    assert r.status_code == 400
    assert "malli.KustannuspaikkaId" in r.json()["ModelState"]
    r = await client.post(
        API + "ilmoitukset/lisaa",
        json={"KustannuspaikkaId": cc, "Otsikko": 'Uusi "vuoto" \\ 💧', "TilaId": 1},
    )
    assert r.status_code == 200
    new_id = r.json()["Id"]
    row = (await client.get(API + f"ilmoitukset/{new_id}")).json()
    assert (row["KustannuspaikkaId"], row["Otsikko"], row["Tila"]) == (
        cc,
        'Uusi "vuoto" \\ 💧',
        "Uusi",
    )
    assert row["Muokattu"].startswith("2025-09-01T15:00:00.0000000+03:00"[:19])
