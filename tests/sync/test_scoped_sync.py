"""An account's `scope` narrows every asset by its declared `cost_centre` (issue 18).

A direct column (the cost centres' `id`, the notices' `kustannuspaikka_id`) keeps the rows
of the scoped cost centres; a `through` one (the links: `kohde_id` through the objects)
keeps the rows of the objects under them, as the warehouse holds them; a fan-out lists
under the scoped cost centres only. Simulator over HTTP, real PostgreSQL, exact rows and
calls.
"""

from __future__ import annotations

import math

import httpx
import pytest

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from tests.sync.helpers import account_for, ledger_total, warehouse_rows
from tests.sync.test_sync_e2e import FAST_RETRIES

ACCOUNT = "demo-a"


def pages(total: int) -> int:
    return max(1, math.ceil(total / 250))


@pytest.fixture
def sim() -> Simulator:
    return Simulator(SimulatorConfig(seed=11, scale=1500, accounts=(ACCOUNT,)))


def _sync(engine, sim, scope, **request):
    account, environ = account_for(sim, ACCOUNT, scope=list(scope))
    return run_sync(
        engine,
        SyncRequest(account, **request),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST_RETRIES,
    )


def _expected(sim, scope):
    cost_centres = [c for c in sim.items(ACCOUNT, "kustannuspaikat") if c["Id"] in scope]
    objects = [o for o in sim.items(ACCOUNT, "kohteet") if o["KustannuspaikkaId"] in scope]
    object_ids = {o["Id"] for o in objects}
    links = [k for k in sim.items(ACCOUNT, "osapuoli_yhteydet") if k["KohdeId"] in object_ids]
    notices = [n for n in sim.items(ACCOUNT, "ilmoitukset") if n["KustannuspaikkaId"] in scope]
    parties = {k["Osapuoli"]["Id"] for k in links if isinstance(k.get("Osapuoli"), dict)}
    return {
        "kustannuspaikat": {c["Id"] for c in cost_centres},
        "kohteet": object_ids,
        "osapuoli_yhteydet": {k["Id"] for k in links},
        "ilmoitukset": {n["Id"] for n in notices},
        "osapuolet": parties,
    }


def test_a_scoped_account_holds_its_cost_centres_and_what_hangs_under_them(engine, sim):
    everything = sim.items(ACCOUNT, "kustannuspaikat")
    scope = tuple(c["Id"] for c in everything[:2])
    report = _sync(engine, sim, scope, full=True)
    assert report.ok, [r.error for r in report.resources]
    expected = _expected(sim, scope)
    for table, ids in expected.items():
        assert set(warehouse_rows(engine, ACCOUNT, table)) == ids, table
    assert all(expected.values())  # the scope holds rows of every table
    # The account-wide lists are read whole and narrowed by their items; the objects are
    # listed under the two cost centres only.
    per_cc = [len([o for o in sim.items(ACCOUNT, "kohteet") if o["KustannuspaikkaId"] == cc])
              for cc in scope]  # fmt: skip
    assert (
        report.calls
        == ledger_total(engine, ACCOUNT)
        == (
            pages(len(everything))
            + sum(pages(n) for n in per_cc)
            + pages(len(sim.items(ACCOUNT, "osapuoli_yhteydet")))
            + pages(len(sim.items(ACCOUNT, "ilmoitukset")))
        )
    )
    assert [r.resource for r in report.resources] == [
        "kustannuspaikat",
        "kohteet",
        "osapuolet",
        "ilmoitukset",
    ]

    # A link added under a scoped object arrives with the next sync; one under another
    # cost centre's object does not.
    outside = next(o for o in sim.items(ACCOUNT, "kohteet") if o["KustannuspaikkaId"] not in scope)
    inside = next(o for o in sim.items(ACCOUNT, "kohteet") if o["KustannuspaikkaId"] in scope)
    party = sim.items(ACCOUNT, "osapuolet")[0]["Id"]
    link = "osapuoli_yhteydet"
    added = sim.apply_change(
        ACCOUNT, link, "insert", fields={"KohdeId": inside["Id"], "OsapuoliId": party}
    ).id
    sim.apply_change(
        ACCOUNT, link, "insert", fields={"KohdeId": outside["Id"], "OsapuoliId": party}
    )
    again = _sync(engine, sim, scope)
    assert again.ok
    links = set(warehouse_rows(engine, ACCOUNT, "osapuoli_yhteydet"))
    assert links == _expected(sim, scope)["osapuoli_yhteydet"]
    assert added in links
