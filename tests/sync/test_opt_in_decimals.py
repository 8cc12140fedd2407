"""An opt-in resource's money is exact too (tampuuri-api.md section 8): a lease's `Vuokra`
and `Vakuus`, served as .NET decimals with up to 29 significant digits, reach the typed
`numeric` columns and the stored item digit for digit, after a full sync over HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import text

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from tests.sync.helpers import account_for
from tests.sync.test_sync_e2e import FAST_RETRIES

ACCOUNT = "demo-a"
LONG = "79.681274900398406374501992032"


def test_lease_money_is_exact_in_columns_and_data(engine) -> None:
    sim = Simulator(SimulatorConfig(seed=3, scale=900, accounts=(ACCOUNT,)))
    apartment = sim.items(ACCOUNT, "vuokrasopimukset")[0]["KohdeId"]
    made = sim.apply_change(
        ACCOUNT,
        "vuokrasopimukset",
        "insert",
        fields={"KohdeId": apartment, "Vuokra": Decimal(LONG), "Vakuus": Decimal("2400.50")},
    )
    account, environ = account_for(sim, ACCOUNT, resources=["vuokrasopimukset"])
    report = run_sync(
        engine,
        SyncRequest(account, ("vuokrasopimukset",), full=True),
        transport=httpx.ASGITransport(app=sim.app),
        environ=environ,
        settings=FAST_RETRIES,
    )
    assert report.ok, [r.error for r in report.resources]
    expected = {i["Id"]: (i["Vuokra"], i["Vakuus"]) for i in sim.items(ACCOUNT, "vuokrasopimukset")}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, vuokra::text, vakuus::text, data->>'Vuokra', data->>'Vakuus'"
                " FROM tampuuri.vuokrasopimukset WHERE account = :a AND deleted_at IS NULL"
            ),
            {"a": ACCOUNT},
        ).all()
    assert {r[0] for r in rows} == set(expected)
    for lease_id, vuokra, vakuus, data_vuokra, data_vakuus in rows:
        want = tuple("" if v is None else str(v) for v in expected[lease_id])
        assert (vuokra or "", vakuus or "") == want
        assert (data_vuokra or "", data_vakuus or "") == want
    mine = next(r for r in rows if r[0] == made.id)
    assert mine[1] == LONG and mine[3] == LONG and mine[2] == "2400.50"
