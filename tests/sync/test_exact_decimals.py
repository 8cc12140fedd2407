"""Every number reaches the warehouse exactly as the API's response text holds it.

Protects issue 16 item 1 end to end (simulator over HTTP, real PostgreSQL): decimals with
28-29 significant digits, with a trailing zero (`55.50`) and integers in decimal fields
land digit for digit in the typed `numeric` columns and in the stored `data`; integers
beyond 64 bits, in a field no column types and in a typed id field, do not cost the page
(the typed column is NULL, `data` keeps the number); an incremental run after a full one
writes nothing (the hash follows the data, not the parser). The comparison is textual:
the numbers are cut out of the raw HTTP bodies, never parsed.
"""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text

from pipelines.simulator import Simulator, SimulatorConfig
from tests.sync.helpers import assert_parity
from tests.sync.test_sync_e2e import sync

ACCOUNT = "demo-a"
LONG = "79.681274900398406374501992032"  # tampuuri-api.md section 8: 29 digits
BEYOND_64_BITS = 2**70 + 7
NUMBER = r"(-?[0-9][0-9.eE+-]*|null)"


@pytest.fixture
def sim() -> Simulator:
    sim = Simulator(SimulatorConfig(seed=3, scale=2500, accounts=(ACCOUNT,)))
    cc = sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    for estimate in (Decimal(LONG), Decimal("55.50"), 120, Decimal("-0.10")):
        sim.apply_change(
            ACCOUNT,
            "ilmoitukset",
            "insert",
            fields={"KustannuspaikkaId": cc, "Kustannusarvio": estimate},
        )
    sim.apply_change(
        ACCOUNT,
        "ilmoitukset",
        "insert",
        fields={
            "KustannuspaikkaId": cc,
            "TyonsuorittajaId": BEYOND_64_BITS,
            "Viite": -BEYOND_64_BITS,
        },
    )
    return sim


def raw_bodies(sim: Simulator) -> dict[str, list[bytes]]:
    """The response bodies of every page of the notice list and of each cost centre's objects."""

    async def fetch() -> dict[str, list[bytes]]:
        headers = sim.credentials(ACCOUNT).headers(software_version="test")
        transport = httpx.ASGITransport(app=sim.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim/v10/api/") as c:
            notices = []
            for offset in range(0, len(sim.items(ACCOUNT, "ilmoitukset")), 250):
                r = await c.get("ilmoitukset/selaa", params={"Offset": offset}, headers=headers)
                notices.append(r.raise_for_status().content)
            objects = []
            for cc in sim.items(ACCOUNT, "kustannuspaikat"):
                body = {"Offset": 0, "Limit": 250}
                r = await c.post(f"kohteet/{cc['Id']}/selaa", json=body, headers=headers)
                objects.append(r.raise_for_status().content)
            return {"ilmoitukset": notices, "kohteet": objects}

    return asyncio.run(fetch())


def numbers_in(bodies: list[bytes], path: str) -> dict[int, str]:
    """`Id -> the number's text` at `path` ("Field" or "Field.Inner") in each item of the
    bodies (the simulator writes an item's Id first and its nested fields last)."""
    keys = [f'"{key}":' for key in path.split(".")]
    pattern = re.compile((r'\{"Id":([0-9]+),[^{]*?' + r"\{[^}]*?".join(keys) + NUMBER).encode())
    found: dict[int, str] = {}
    for body in bodies:
        found.update({int(i): n.decode() for i, n in pattern.findall(body)})
    return found


def stored(engine, table: str, column: str, path: str) -> dict[int, tuple[str | None, str]]:
    """`id -> (the typed column as text, the number in data as text)`."""
    query = text(
        f"SELECT id, {column}::text, (data #> :path)::text FROM tampuuri.{table}"
        " WHERE account = :a AND deleted_at IS NULL"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"a": ACCOUNT, "path": path.split(".")}).all()
    return {row_id: (typed, raw) for row_id, typed, raw in rows}


def test_numbers_are_stored_exactly_as_the_api_wrote_them(engine, sim):
    report = sync(engine, sim, ACCOUNT, full=True)
    assert report.ok, [r.error for r in report.resources]
    bodies = raw_bodies(sim)
    checks = [
        ("ilmoitukset", "kustannusarvio", "Kustannusarvio"),
        ("kohteet", "huoneistoala", "Huoneistoala"),
    ]
    for table, column, field in checks:
        sent = numbers_in(bodies[table], field)
        warehouse = stored(engine, table, column, field)
        assert sent.keys() == warehouse.keys(), table
        for row_id, text_sent in sent.items():
            expected = None if text_sent == "null" else text_sent
            assert warehouse[row_id] == (expected, text_sent), (table, row_id)  # null: JSON's
        numbers = [n for n in sent.values() if n != "null"]
        assert any(len(n.replace(".", "").lstrip("0")) >= 28 for n in numbers), table
        assert any("." in n and n.endswith("0") for n in numbers), table
        assert any("." not in n for n in numbers), table  # integers in a decimal field
    notices = numbers_in(bodies["ilmoitukset"], "Kustannusarvio")
    assert {LONG, "55.50", "120", "-0.10"} <= set(notices.values())

    # Beyond 64 bits: in a typed bigint field (NULL there, exact in data) and elsewhere.
    sent_ids = numbers_in(bodies["ilmoitukset"], "TyonsuorittajaId")
    big = [i for i, n in sent_ids.items() if n == str(BEYOND_64_BITS)]
    assert len(big) == 1
    assert stored(engine, "ilmoitukset", "tyonsuorittaja_id", "TyonsuorittajaId")[big[0]] == (
        None,
        str(BEYOND_64_BITS),
    )
    assert stored(engine, "ilmoitukset", "id", "Viite")[big[0]] == (
        str(big[0]),
        str(-BEYOND_64_BITS),
    )
    served = numbers_in(bodies["kohteet"], "Lisäkenttä.Viite")  # the simulator's own
    assert served and all(int(n) >= 2**64 for n in served.values())
    in_data = stored(engine, "kohteet", "id", "Lisäkenttä.Viite")
    assert {i: in_data[i][1] for i in served} == served
    assert_parity(engine, sim, ACCOUNT)


def test_a_second_full_sync_of_exact_decimals_writes_nothing(engine, sim):
    assert sync(engine, sim, ACCOUNT, full=True).ok
    again = sync(engine, sim, ACCOUNT, full=True)
    assert again.ok, [r.error for r in again.resources]
    assert sum(r.counts.inserted + r.counts.updated for r in again.resources) == 0
