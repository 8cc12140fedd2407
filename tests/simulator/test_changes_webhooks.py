"""Changes through /_sim/changes (insert, update, delete) really change what the API
serves, stamp `Muokattu` with the injected clock and queue the webhook notifications;
the sender bundles them, retries with backoff, gives up after 5 attempts, and logs."""

from __future__ import annotations

import httpx
import pytest

from pipelines.simulator import Simulator, SimulatorConfig

from .helpers import API, BASE, Receiver

pytestmark = pytest.mark.anyio


def _sim(clock, receiver: Receiver, **config) -> Simulator:
    config = {"seed": 1, "scale": 200, "accounts": ("demo-a", "demo-b"),
              "webhook_retry_delays_s": (0.0,), **config}  # fmt: skip
    return Simulator(SimulatorConfig(**config), clock=clock, webhook_transport=receiver.transport())


def _clients(sim: Simulator) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sim.app)
    api = httpx.AsyncClient(
        transport=transport, base_url=BASE, headers=sim.credentials("demo-a").headers()
    )
    return api, httpx.AsyncClient(transport=transport, base_url=BASE)


async def test_update_insert_delete_change_the_api_and_queue_events(clock):
    receiver = Receiver(200)
    sim = _sim(clock, receiver)
    api, admin = _clients(sim)
    async with api, admin:
        r = await admin.post(
            "/_sim/webhooks/listeners",
            json={
                "account": "demo-a",
                "url": "http://hooks/in?token=s3cret",
                "events": None,
                "secret_header": {"name": "X-Hook-Secret", "value": "hunter2"},
            },
        )
        assert r.status_code == 201 and "hunter2" not in r.text and "s3cret" not in r.text
        notice = sim.items("demo-a", "ilmoitukset")[0]
        obj = next(o for o in sim.items("demo-a", "kohteet") if o["Metaname"] == "autopaikka")
        party = sim.items("demo-a", "osapuolet")[0]
        clock.advance(60)
        r = await admin.post(
            "/_sim/changes",
            json={
                "account": "demo-a",
                "resource": "ilmoitukset",
                "op": "update",
                "id": notice["Id"],
                "fields": {"TilaId": 6},
            },
        )
        assert r.json()["Id"] == notice["Id"]
        changed = (await api.get(API + f"ilmoitukset/{notice['Id']}")).json()
        assert (changed["TilaId"], changed["Tila"]) == (6, "Valmis")
        assert changed["Muokattu"] == "2025-09-01T15:01:00.0000000+03:00"
        r = await admin.post(
            "/_sim/changes",
            json={
                "account": "demo-a",
                "resource": "osapuolet",
                "op": "update",
                "id": party["Id"],
                "fields": {"Nimi": "Uusi Nimi"},
            },
        )
        links = [
            link
            for link in sim.items("demo-a", "osapuoli_yhteydet")
            if link["OsapuoliId"] == party["Id"]
        ]
        assert links and all(link["Osapuoli"]["Nimi"] == "Uusi Nimi" for link in links)
        await admin.post(
            "/_sim/changes",
            json={"account": "demo-a", "resource": "kohteet", "op": "delete", "id": obj["Id"]},
        )
        assert (await api.get(API + f"kohteet/{obj['Id']}")).status_code == 404
        r = await admin.post(
            "/_sim/changes",
            json={
                "account": "demo-a",
                "resource": "osapuoli_yhteydet",
                "op": "insert",
                "fields": {"OsapuoliId": party["Id"], "KohdeId": links[0]["KohdeId"]},
            },
        )
        new_link = r.json()["Id"]
        await admin.post(
            "/_sim/changes",
            json={"account": "demo-a", "resource": "osapuolet", "op": "delete", "id": party["Id"]},
        )
        hae = await api.post(
            API + "osapuolitiedot/osapuolet/hae", json={"OsapuoliIdt": [party["Id"]]}
        )
        assert hae.json() == []
        assert new_link not in {link["Id"] for link in sim.items("demo-a", "osapuoli_yhteydet")}
        bad = await admin.post(
            "/_sim/changes",
            json={"account": "demo-a", "resource": "kohteet", "op": "delete", "id": 1},
        )
        assert bad.status_code == 400
        # demo-b's changes never reach demo-a's listener.
        await admin.post(
            "/_sim/changes", json={"account": "demo-b", "resource": "osapuolet", "op": "insert"}
        )

        log = (await admin.post("/_sim/webhooks/flush")).json()["deliveries"]
    assert [(e["attempt"], e["status"], e["outcome"]) for e in log] == [(1, 200, "delivered")]
    assert len(receiver.bundles) == 1
    bundle = receiver.bundles[0]
    assert bundle["Attempts"] == 1
    actions = [
        (n["Action"], n["ReferenceId"], n["ReferenceSecondaryId"]) for n in bundle["Notifications"]
    ]
    assert actions == [
        ("IlmoitusTilamuutos", notice["Id"], notice["KustannuspaikkaId"]),
        ("OsapuoliMuokkaa", party["Id"], None),
        ("KohderekisteriTietoPoista", obj["Id"], obj["KustannuspaikkaId"]),
        ("OsapuoliKohdeLiitosUusi", links[0]["KohdeId"], party["Id"]),
        ("OsapuoliPoista", party["Id"], None),
    ]
    first = bundle["Notifications"][0]
    assert set(first) == {"Action", "Account", "ReferenceId", "ReferenceSecondaryId",
                          "ReferenceData", "ReferenceJson", "Timestamp"}  # fmt: skip
    assert first["Account"] == "demo-a" and first["Timestamp"].endswith("+03:00")
    assert receiver.headers[0]["x-hook-secret"] == "hunter2"
    assert receiver.paths[0] == "/in?token=s3cret"
    assert sim.transactions() == [  # the admin API is never counted; API calls are
        {
            "account": "demo-a",
            "method": "GET",
            "route": "ilmoitukset/{id}",
            "status": 200,
            "count": 1,
        },
        {
            "account": "demo-a",
            "method": "GET",
            "route": "kohteet/{kohde_id}",
            "status": 404,
            "count": 1,
        },
        {
            "account": "demo-a",
            "method": "POST",
            "route": "osapuolitiedot/osapuolet/hae",
            "status": 200,
            "count": 1,
        },
    ]


async def test_new_notice_via_api_fires_ilmoitus_uusi_and_filter_by_event(clock):
    receiver = Receiver(200)
    sim = _sim(clock, receiver)
    sim.webhooks.add_listener("demo-a", "http://hooks/in", ["IlmoitusUusi"])
    api, admin = _clients(sim)
    async with api, admin:
        cc = sim.items("demo-a", "kustannuspaikat")[0]["Id"]
        new = (await api.post(API + "ilmoitukset/lisaa", json={"KustannuspaikkaId": cc})).json()[
            "Id"
        ]
        sim.apply_change("demo-a", "kohteet", "update", id=sim.items("demo-a", "kohteet")[0]["Id"])
        await admin.post("/_sim/webhooks/flush")
    [bundle] = receiver.bundles
    assert [(n["Action"], n["ReferenceId"]) for n in bundle["Notifications"]] == [
        ("IlmoitusUusi", new)
    ]


async def test_retries_then_drops_after_five_attempts(clock):
    receiver = Receiver(500)
    sim = _sim(clock, receiver, webhook_retry_delays_s=(10.0, 20.0, 30.0, 40.0))
    sim.webhooks.add_listener("demo-a", "http://hooks/in")
    api, admin = _clients(sim)
    async with api, admin:
        sim.apply_change("demo-a", "osapuolet", "insert")
        sim.apply_change("demo-a", "osapuolet", "insert")
        log = []
        for wait in (0, 5, 5, 20, 30, 40, 100):
            clock.advance(wait)
            log += (await admin.post("/_sim/webhooks/flush")).json()["deliveries"]
        sim.apply_change("demo-a", "osapuolet", "insert")  # a later event: a new bundle
        receiver.statuses = [204]
        log += (await admin.post("/_sim/webhooks/flush")).json()["deliveries"]
        full_log = (await admin.get("/_sim/webhooks/deliveries")).json()["deliveries"]
    assert [(e["bundle"], e["attempt"], e["outcome"]) for e in log] == [
        (1, 1, "retry"), (1, 2, "retry"), (1, 3, "retry"), (1, 4, "retry"), (1, 5, "dropped"),
        (2, 1, "delivered"),
    ]  # fmt: skip
    assert [b["Attempts"] for b in receiver.bundles] == [1, 2, 3, 4, 5, 1]
    assert all(len(b["Notifications"]) == 2 for b in receiver.bundles[:5])
    assert full_log == log


async def test_unreachable_listener_counts_as_failed_attempt(clock):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    sim = Simulator(SimulatorConfig(seed=1, scale=50, webhook_retry_delays_s=(0.0,)), clock=clock,
                    webhook_transport=httpx.MockTransport(refuse))  # fmt: skip
    sim.webhooks.add_listener("demo-a", "http://hooks/in")
    sim.apply_change("demo-a", "ilmoitukset", "insert")
    entries = [e for _ in range(6) for e in await sim.webhooks.deliver_due()]
    assert [(e["attempt"], e["error"], e["outcome"]) for e in entries] == [
        (1, "ConnectError", "retry"), (2, "ConnectError", "retry"), (3, "ConnectError", "retry"),
        (4, "ConnectError", "retry"), (5, "ConnectError", "dropped"),
    ]  # fmt: skip


async def test_random_changes_are_deterministic_by_seed(clock):
    results = []
    for _ in range(2):
        sim = Simulator(SimulatorConfig(seed=1, scale=400), clock=clock)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=sim.app), base_url=BASE
        ) as admin:
            r = await admin.post(
                "/_sim/changes/random", json={"account": "demo-a", "count": 40, "seed": 9}
            )
        results.append((r.json()["changes"], sim.items("demo-a", "ilmoitukset")))
    assert results[0] == results[1]
    changes = results[0][0]
    assert len(changes) == 40
    kinds = [(c["resource"], c["op"]) for c in changes]
    notice_changes = sum(k[0] == "ilmoitukset" for k in kinds)
    assert notice_changes > len(kinds) / 3  # mostly notices, as in real life


async def test_state_and_stream_admin_routes(sim, admin):
    r = await admin.get("/_sim/state/demo-a/kustannuspaikat")
    assert r.json()["Items"] == sim.items("demo-a", "kustannuspaikat")
    assert (await admin.get("/_sim/state/demo-x/kohteet")).status_code == 404
    assert (await admin.put("/_sim/stream", json={"per_s": 5})).json() == {"per_s": 5.0}
    assert sim.stream_per_s == 5.0
