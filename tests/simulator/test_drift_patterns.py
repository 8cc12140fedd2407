"""The drift fault's patterns, over HTTP: each is a real change between two page calls.

- `delete_read` deletes a row before the asked Offset: Total drops by one, the page
  boundary's row slips back one place, the row is gone from every list and its detail 404s;
- `insert_after_cursor` adds a real row with a higher id than any: it lands at the end;
- `delete_and_insert` does both between the same two calls: Total stays where it was;
- repeated: `drift_rate` 1 bounded by `drift_max`, or `drift_repeat` after a drawn drift.
Pages at Offset 0 never drift, `drift_resources` confines drift to the named lists, every
change is logged at GET /_sim/drift, and bad settings answer 400 naming what was wrong.
"""

from __future__ import annotations

from itertools import pairwise

import httpx
import pytest

from pipelines.simulator import FaultConfig, Simulator, SimulatorConfig

from .helpers import API

pytestmark = pytest.mark.anyio
LINKS = "osapuolet/yhteydet/selaa"


async def drift_once(admin: httpx.AsyncClient, pattern: str, resource: str, **extra) -> None:
    settings = {"drift_rate": 1.0, "drift_patterns": [pattern], "drift_resources": [resource],
                "drift_max": 1, **extra}  # fmt: skip
    r = await admin.put("/_sim/faults", json=settings)
    assert r.status_code == 200, r.text


async def page(client: httpx.AsyncClient, offset: int, limit: int = 10) -> dict:
    r = await client.get(API + LINKS, params={"Offset": offset, "Limit": limit})
    assert r.status_code == 200, r.text
    return r.json()


async def events(admin: httpx.AsyncClient) -> list[dict]:
    return (await admin.get("/_sim/drift")).json()["events"]


def ids(answer: dict) -> list[int]:
    return [item["Id"] for item in answer["Items"]]


async def test_delete_read_removes_a_read_row_and_shifts_the_boundary(sim, client, admin):
    await drift_once(admin, "delete_read", "osapuoli_yhteydet")
    before = [i["Id"] for i in sim.items("demo-a", "osapuoli_yhteydet")]
    first = await page(client, 0)
    second = await page(client, 9)  # one row of overlap with the first page
    [event] = await events(admin)
    assert event == {"resource": "osapuoli_yhteydet", "scope": None, "offset": 9,
                     "pattern": "delete_read", "op": "delete", "id": event["id"]}  # fmt: skip
    assert event["id"] in ids(first)[:9]  # a row the scan had read
    assert second["Total"] == first["Total"] - 1 == len(before) - 1
    # The first page's last row moved to Offset 8: the second page starts one row later.
    assert ids(second) == [i for i in before if i != event["id"]][9:19]
    assert ids(second)[0] == before[10]
    assert event["id"] not in {i["Id"] for i in sim.items("demo-a", "osapuoli_yhteydet")}
    # Only the list asked past its first page drifted, once (drift_max 1).
    assert (await page(client, 19))["Total"] == second["Total"]


async def test_a_deleted_notice_is_gone_from_its_detail_route(sim, client, admin):
    await drift_once(admin, "delete_read", "ilmoitukset")
    notices = [i["Id"] for i in sim.items("demo-a", "ilmoitukset")]
    await client.get(API + "ilmoitukset/selaa", params={"Offset": 0, "Limit": 1})
    r = await client.get(API + "ilmoitukset/selaa", params={"Offset": 1, "Limit": 1})
    [event] = await events(admin)
    assert event["id"] == notices[0]  # the only row before Offset 1
    assert r.json()["Total"] == len(notices) - 1
    assert (await client.get(API + f"ilmoitukset/{notices[0]}")).status_code == 404
    assert (await client.get(API + f"ilmoitukset/{notices[1]}")).status_code == 200


async def test_insert_after_cursor_adds_a_real_row_at_the_end(sim, client, admin):
    await drift_once(admin, "insert_after_cursor", "osapuoli_yhteydet")
    before = [i["Id"] for i in sim.items("demo-a", "osapuoli_yhteydet")]
    await page(client, 0)
    second = await page(client, 9)
    [event] = await events(admin)
    assert event["op"] == "insert" and event["id"] > max(before)
    assert second["Total"] == len(before) + 1
    assert ids(second) == before[9:19]  # nothing before the cursor moved
    last = await page(client, len(before) - 1)
    assert ids(last) == [before[-1], event["id"]]
    # A real link: its party is served by the batch route too.
    link = sim.store("demo-a").get("osapuoli_yhteydet", event["id"])
    r = await client.post(
        API + "osapuolitiedot/osapuolet/hae", json={"OsapuoliIdt": [link["OsapuoliId"]]}
    )
    assert [p["Id"] for p in r.json()] == [link["OsapuoliId"]]


async def test_delete_and_insert_between_the_same_calls_keep_total(sim, client, admin):
    await drift_once(admin, "delete_and_insert", "osapuoli_yhteydet")
    before = [i["Id"] for i in sim.items("demo-a", "osapuoli_yhteydet")]
    first = await page(client, 0)
    second = await page(client, 9)
    deleted, inserted = await events(admin)
    assert (deleted["op"], inserted["op"]) == ("delete", "insert")
    assert deleted["offset"] == inserted["offset"] == 9
    assert second["Total"] == first["Total"] == len(before)  # Total ends where it started
    assert ids(second)[0] == before[10]  # the boundary still slipped
    after = [i["Id"] for i in sim.items("demo-a", "osapuoli_yhteydet")]
    assert after == [i for i in before if i != deleted["id"]] + [inserted["id"]]


async def test_objects_of_a_cost_centre_drift_in_their_own_list(sim, client, admin):
    """POST kohteet/{id}/selaa (body paging): the drift stays within the cost centre."""
    await drift_once(admin, "delete_and_insert", "kohteet")
    cc = sim.items("demo-a", "kustannuspaikat")[0]["Id"]
    store = sim.store("demo-a")
    before = list(store.objects_by_cc[cc])
    path = API + f"kohteet/{cc}/selaa"
    await client.post(path, json={"Offset": 0, "Limit": 5})
    second = (await client.post(path, json={"Offset": 4, "Limit": 5})).json()
    deleted, inserted = await events(admin)
    assert deleted["scope"] == inserted["scope"] == cc
    assert deleted["id"] in before[:4] and inserted["id"] > max(before)
    assert second["Total"] == len(before)
    assert store.objects_by_cc[cc] == [i for i in before if i != deleted["id"]] + [inserted["id"]]
    assert (await client.get(API + f"kohteet/{deleted['id']}")).status_code == 404


async def test_repeated_drift_between_consecutive_calls(sim, client, admin):
    await drift_once(admin, "delete_read", "osapuoli_yhteydet", drift_max=3)
    totals = [(await page(client, offset))["Total"] for offset in (0, 9, 18, 27, 36)]
    start = totals[0]
    assert totals == [start, start - 1, start - 2, start - 3, start - 3]
    assert [e["offset"] for e in await events(admin)] == [9, 18, 27]


async def test_drift_repeat_goes_on_over_the_next_pages(client, admin):
    """After a drawn drift the next drift_repeat - 1 list pages drift too, whatever is drawn."""
    r = await admin.put(
        "/_sim/faults",
        json={"drift_rate": 0.1, "drift_repeat": 3, "drift_patterns": ["insert_after_cursor"],
              "seed": 3},
    )  # fmt: skip
    assert r.status_code == 200
    totals = [(await page(client, offset))["Total"] for offset in range(0, 9 * 40, 9)]
    drifted = [b > a for a, b in pairwise(totals)]
    runs, run = [], 0
    for flag in [*drifted, False]:
        if flag:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert runs and all(r % 3 == 0 for r in runs[:-1])  # whole streaks (the last may be cut)
    assert sum(drifted) == len(await events(admin))


async def test_offset_zero_and_other_lists_never_drift(sim, client, admin):
    await admin.put("/_sim/faults", json={"drift_rate": 1.0, "drift_resources": ["kohteet"]})
    totals = {(await page(client, o))["Total"] for o in (0, 9, 18)}
    assert totals == {len(sim.items("demo-a", "osapuoli_yhteydet"))}
    await admin.put("/_sim/faults", json={"drift_rate": 1.0})
    for _ in range(3):
        await page(client, 0)
    assert await events(admin) == []


async def test_bad_drift_settings_are_refused_naming_them(admin):
    bad = [
        ({"drift_patterns": ["shuffle"]}, "drift_patterns: unknown ['shuffle']"),
        ({"drift_patterns": "delete_read"}, "drift_patterns must be a list"),
        ({"drift_resources": ["osapuolet"]}, "drift_resources: ['osapuolet'] have no list route"),
        ({"drift_repeat": 0}, "drift_repeat must be at least 1"),
    ]
    for body, message in bad:
        r = await admin.put("/_sim/faults", json=body)
        assert r.status_code == 400 and message in r.json()["error"], r.text
    r = await admin.put("/_sim/faults", json={"drift_patterns": ["delete_and_insert"]})
    assert r.json()["drift_patterns"] == ["delete_and_insert"]
    assert FaultConfig.from_dict(r.json()) == FaultConfig(drift_patterns=("delete_and_insert",))


def test_a_seed_gives_the_same_drift(clock):
    def run() -> list[int]:
        sim = Simulator(SimulatorConfig(seed=1, scale=200), clock=clock)
        sim.faults.configure(FaultConfig(drift_rate=1.0, drift_max=4, seed=2))
        for offset in (9, 18, 27, 36):
            sim.drift("demo-a", "osapuoli_yhteydet", None, offset)
        return [e["id"] for e in sim.faults.drift_log]

    assert run() == run()
