"""Numbers of any size and precision load exactly; row hashes stay what they were.

Protects issue 16 item 1 at the loader: a decimal's every digit (and its trailing zero)
reaches the typed `numeric` column and `data`; an integer beyond 64 bits in any field
loads (exact in `data` and in a `numeric` column, NULL in a `bigint`/`integer` one)
instead of failing the page; an `Id` beyond bigint is a clear per-item error naming the
item's position and nothing of the page is staged; and the row hash of an item without
fractional numbers is the md5 of the same sorted-key JSON orjson wrote before the
switch to exact decimals (the same API data gives the same warehouse rows).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import orjson
import pytest

from pipelines.warehouse.encoding import encode_page
from pipelines.warehouse.tables import TABLES

BIG = 2**70 + 3


def test_decimals_and_big_integers_load_exactly(load, fetch):
    items = [
        {"Id": 1, "Huoneistoala": Decimal("79.681274900398406374501992032")},
        {"Id": 2, "Huoneistoala": Decimal("55.50"), "HuoneistotyyppiId": BIG},
        {"Id": 3, "Huoneistoala": BIG, "ParentId": BIG, "Lisäkenttä": {"Viite": -BIG}},
        {"Id": 4, "Huoneistoala": 52, "KustannuspaikkaId": 2**63 - 1},
    ]
    assert load("kohteet", items).inserted == 4
    rows = fetch(
        "SELECT id, huoneistoala::text, huoneistotyyppi_id, parent_id, kustannuspaikka_id,"
        " (data->'Huoneistoala')::text, (data #> '{Lisäkenttä,Viite}')::text"
        " FROM tampuuri.kohteet ORDER BY id"
    )
    assert rows == [
        (1, "79.681274900398406374501992032", None, None, None,
         "79.681274900398406374501992032", None),
        (2, "55.50", None, None, None, "55.50", None),
        (3, str(BIG), None, None, None, str(BIG), str(-BIG)),
        # to_bigint takes 18 digits at most: 2**63 - 1 (19) is NULL as it always was.
        (4, "52", None, None, None, "52", None),
    ]  # fmt: skip


def test_an_id_beyond_bigint_is_a_clear_error_for_that_item():
    items = [{"Id": 1, "Nimi": "As Oy A"}, {"Id": BIG, "Nimi": "As Oy B"}]
    with pytest.raises(ValueError, match=rf"position 1 has Id {BIG}, beyond .*bigint"):
        encode_page(TABLES["kustannuspaikat"], items)
    with pytest.raises(ValueError, match="position 0 has no integer Id"):
        encode_page(TABLES["kustannuspaikat"], [{"Id": Decimal("1.5")}])


def test_row_hash_of_items_without_fractions_is_what_orjson_gave(load, fetch):
    items = [
        {"Id": 7, "Nimi": "Kallio ÄÖ 💧", "Tunnus": 'A "1"\\', "ParentId": None,
         "HuoneistotyyppiId": 4, "Huoneistoala": 60, "Lisätiedot": "rivi\nrivi\u0001",
         "Muokattu": "2025-04-20T00:37:45.8617613+03:00", "Tyhjä": [], "Sis": {"b": 1, "a": True}},
        {"Id": 8, "Nimi": None, "Huoneistoala": -(2**63)},
    ]  # fmt: skip
    load("kohteet", items)
    before = {
        item["Id"]: hashlib.md5(orjson.dumps(item, option=orjson.OPT_SORT_KEYS)).hexdigest()
        for item in items
    }
    assert dict(fetch("SELECT id, row_hash FROM tampuuri.kohteet")) == before
