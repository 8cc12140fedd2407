"""Typed columns are extracted from `data` exactly as migration 0001 declares them.

Protects the TableSpec contract: every table's typed columns match the schema, values in
the API's shapes (comma decimals, 7-digit fractional timestamps with a Helsinki offset,
`Lisätiedot`) land typed, and a value in an unexpected shape becomes NULL while the item
is kept verbatim in `data`.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from pipelines.warehouse.tables import CAST_FUNCTIONS, TABLES

COMMON = {
    "account", "id", "data", "row_hash", "first_seen_at", "synced_at", "changed_at",
    "deleted_at", "missing_since",
}  # fmt: skip


@pytest.mark.parametrize("table", sorted(TABLES))
def test_spec_columns_match_the_schema(engine, table):
    spec = TABLES[table]
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'tampuuri' AND table_name = :t ORDER BY ordinal_position"
            ),
            {"t": table},
        ).all()
    typed = [(name, kind) for name, kind in found if name not in COMMON]
    aliases = {"timestamp with time zone": "timestamptz"}
    assert [(n, aliases.get(k, k)) for n, k in typed] == [
        (c.name, c.sql_type) for c in spec.columns
    ]
    for column in spec.columns:  # a fan_out column reads no field; a dotted one its top key
        if column.source == "item":
            assert column.field.split(".")[0] in spec.known_fields


def test_kohteet_typed_values(load, fetch):
    item = {
        "Id": 124821,
        "ParentId": 500,
        "KustannuspaikkaId": 100,
        "Metaname": "huoneisto",
        "Nimi": "Asunto A 12",
        "Tunnus": "A 12",
        "Huoneistoala": "54,5",
        "HuoneistotyyppiId": 3,
        "Lisätiedot": "Parveke länteen",
        "Muokattu": "2025-04-20T00:37:45.8617613+03:00",
    }
    assert load("kohteet", [item]).inserted == 1
    (row,) = fetch(
        "SELECT parent_id, kustannuspaikka_id, metaname, nimi, tunnus, huoneistoala,"
        " huoneistotyyppi_id, lisatiedot, muokattu, data FROM tampuuri.kohteet"
    )
    assert row[:8] == (500, 100, "huoneisto", "Asunto A 12", "A 12", Decimal("54.5"), 3,
                       "Parveke länteen")  # fmt: skip
    # 7 fractional digits are rounded to PostgreSQL's microseconds; stored as UTC.
    assert row[8] == datetime(2025, 4, 19, 21, 37, 45, 861761, tzinfo=UTC)
    assert row[9] == item


def test_bad_values_become_null_and_data_is_kept(load, fetch):
    item = {
        "Id": 7,
        "ParentId": "ei tiedossa",
        "KustannuspaikkaId": 1.5,
        "Huoneistoala": "n. 50 m2",
        "HuoneistotyyppiId": 99999999999,  # out of integer range
        "Lisätiedot": {"nested": [1, 2]},
        "Muokattu": "eilen",
    }
    assert load("kohteet", [item]).inserted == 1
    (row,) = fetch(
        "SELECT parent_id, kustannuspaikka_id, huoneistoala, huoneistotyyppi_id, lisatiedot,"
        " muokattu, data FROM tampuuri.kohteet WHERE id = 7"
    )
    assert row[:4] == (None, None, None, None)
    assert row[4] == '{"nested": [1, 2]}'  # text columns take the JSON text of a non-string
    assert row[5] is None
    assert row[6] == item


def test_numbers_in_json_shapes(load, fetch):
    items = [
        {"Id": 1, "Huoneistoala": 54.5, "HuoneistotyyppiId": "4"},
        {"Id": 2, "Huoneistoala": " 60 ", "HuoneistotyyppiId": None},
        {"Id": 3},
    ]
    assert load("kohteet", items).inserted == 3
    assert fetch(
        "SELECT id, huoneistoala, huoneistotyyppi_id FROM tampuuri.kohteet ORDER BY id"
    ) == [
        (1, Decimal("54.5"), 4),
        (2, Decimal("60"), None),
        (3, None, None),
    ]


def test_kustannuspaikat_typed_values(load, fetch):
    item = {
        "Id": 100,
        "Nimi": "As Oy Esimerkki",
        "YTunnus": "1234567-8",
        "Tyyppi": "Asunto-osakeyhtiö",
        "Katuosoite": "Mannerheimintie 1",
        "Postinumero": "00100",
        "Postitoimipaikka": "Helsinki",
        # Without an offset (ASP.NET DateTime): Helsinki wall-clock time.
        "Muokattu": "2025-01-15T12:00:00.1234567",
    }
    load("kustannuspaikat", [item])
    assert fetch(
        "SELECT nimi, y_tunnus, tyyppi, katuosoite, postinumero, postitoimipaikka, muokattu"
        " FROM tampuuri.kustannuspaikat"
    ) == [
        ("As Oy Esimerkki", "1234567-8", "Asunto-osakeyhtiö", "Mannerheimintie 1", "00100",
         "Helsinki", datetime(2025, 1, 15, 10, 0, 0, 123457, tzinfo=UTC)),
    ]  # fmt: skip


def test_osapuolet_typed_values(load, fetch):
    items = [
        {"Id": 1, "YritysId": 9, "Nimi": "Matti M", "Osapuolityyppi": "Henkilo",
         "Turvakielto": True, "Sahkoposti": "m@x.fi", "Puhelin": "040 123",
         "Katuosoite": "Katu 1", "Postinumero": "00100", "Postitoimipaikka": "Helsinki",
         "Tunnistautuminen": None, "Parametrit": [{"Id": 1}]},
        {"Id": 2, "Turvakielto": "kyllä"},
    ]  # fmt: skip
    load("osapuolet", items)
    assert fetch(
        "SELECT id, yritys_id, nimi, osapuolityyppi, turvakielto, sahkoposti, puhelin,"
        " katuosoite, postinumero, postitoimipaikka FROM tampuuri.osapuolet ORDER BY id"
    ) == [
        (1, 9, "Matti M", "Henkilo", True, "m@x.fi", "040 123", "Katu 1", "00100", "Helsinki"),
        (2, None, None, None, None, None, None, None, None, None),
    ]


def test_osapuoli_yhteydet_keep_nested_party_in_data(load, fetch):
    item = {
        "Id": 55,
        "OsapuoliId": 1,
        "KohdeId": 124821,
        "Rooli": "Omistaja",
        "Alkupvm": "2020-02-01T00:00:00",
        "Loppupvm": None,
        "Osapuoli": {"Id": 1, "Nimi": "Matti M", "Turvakielto": False},
    }
    counts = load("osapuoli_yhteydet", [item])
    assert counts.inserted == 1
    (row,) = fetch(
        "SELECT osapuoli_id, kohde_id, rooli, alkupvm, loppupvm, data"
        " FROM tampuuri.osapuoli_yhteydet"
    )
    assert row == (1, 124821, "Omistaja", date(2020, 2, 1), None, item)


def test_ilmoitukset_typed_values(load, fetch):
    item = {
        "Id": 9001,
        "KustannuspaikkaId": 100,
        "TilaId": 2,
        "HuoneId": 124821,
        "Otsikko": "Vuotava hana",
        "TyotehtavanKuvaus": "Keittiön hana vuotaa",
        "Tila": "Tehty",
        "Kiireellisyys": "Normaali",
        "Vikaluokka": "LVI",
        "Kustannusarvio": "120,50",
        "TyonsuorittajaId": 77,
        "IlmoittajaId": 1,
        "Luotu": "2025-04-01T08:00:00.0000000+03:00",
        "Muokattu": "2025-04-02T09:30:00.5000000+03:00",
    }
    load("ilmoitukset", [item])
    assert fetch(
        "SELECT kustannuspaikka_id, tila_id, huone_id, otsikko, tyotehtavan_kuvaus, tila,"
        " kiireellisyys, vikaluokka, kustannusarvio, tyonsuorittaja_id, ilmoittaja_id, luotu,"
        " muokattu FROM tampuuri.ilmoitukset"
    ) == [
        (100, 2, 124821, "Vuotava hana", "Keittiön hana vuotaa", "Tehty", "Normaali", "LVI",
         Decimal("120.50"), 77, 1, datetime(2025, 4, 1, 5, 0, tzinfo=UTC),
         datetime(2025, 4, 2, 6, 30, 0, 500000, tzinfo=UTC)),
    ]  # fmt: skip


# Values in every shape: the common ones and those the lenient casts turn into NULL.
SHAPES = {
    "ParentId": [
        5,
        -5,
        0,
        "42",
        "007",
        " 42 ",
        "4 2",
        10**18 - 1,
        10**18,
        -(10**17),
        1.0,
        Decimal("7.0"),
        Decimal("1E+3"),
        2**70,
        -(2**70),
        True,
        "1e3",
        "٣",
        None,
        {"a": 1},
    ],
    "HuoneistotyyppiId": [
        3,
        2147483647,
        2147483648,
        -2147483648,
        -2147483649,
        "12",
        False,
        Decimal("3.0"),
        2**70,
        " 7 ",
    ],
    "Huoneistoala": [
        54,
        "54,5",
        "54.50",
        "-3",
        " 60 ",
        "1,2,3",
        54.5,
        "",
        "5,",
        2**63 - 1,
        True,
        Decimal("79.681274900398406374501992032"),
        Decimal("55.50"),
        Decimal("-0.10"),
        Decimal("1E-30"),
        Decimal("2E+40"),
        2**70,
        None,
        {"a": 1},
    ],
    "Muokattu": [
        "2025-04-20T00:37:45.8617613+03:00",
        "2025-04-20T00:37:45Z",
        "2025-04-20T00:37:45+0300",
        "2025-04-20T00:37:45.1-02:30",
        "2025-01-15T12:00:00.1234567",
        "2025-04-20",
        "2025-04-20T24:00:00+03:00",
        "2025-12-31T23:59:60+02:00",
        "2025-04-20T00:37:45+15:00",
        "2025-04-20 00:37:45+03:00",
        "20250420T003745+03:00",
        "eilen",
        20250420,
    ],
}
BOOLEANS = [True, False, "true", " TRUE ", "False", "kyllä", 1, 0, None, [True]]
DATES = ["2020-02-01T00:00:00", "2020-02-01", "2020-02-01xyz", "2020-2-1",
         "20200201", 20200201, None]  # fmt: skip


def lenient_cast(column) -> str:
    """0001's lenient cast of the field's text, the reference `typed_expression` equals."""
    raw = f"t.data->>'{column.field}'"
    if column.cast == "integer":
        bigint = f"ops.to_bigint({raw})"
        return f"CASE WHEN {bigint} BETWEEN -2147483648 AND 2147483647 THEN {bigint}::integer END"
    return f"ops.{CAST_FUNCTIONS[column.cast]}({raw})"


def test_every_write_path_types_columns_by_the_sql_casts_of_data(load, engine):
    """Streaming, first-load and planned writes all give the typed columns exactly what
    0001's lenient casts make of `data`, row by row, in every shape a value may take
    (`typed_expression`'s short paths for JSON numbers, booleans and nulls included)."""
    shapes = [(field, value) for field, values in SHAPES.items() for value in values]
    items = [{"Id": i, field: value} for i, (field, value) in enumerate(shapes, start=1)]
    links = [
        {"Id": i + 1, "OsapuoliId": value, "KohdeId": str(value),
         "Alkupvm": DATES[i % len(DATES)], "Loppupvm": DATES[-1 - i % len(DATES)]}
        for i, value in enumerate(BOOLEANS + DATES)
    ]  # fmt: skip
    parties = [{"Id": i, "Turvakielto": b, "YritysId": b} for i, b in enumerate(BOOLEANS, 1)]
    # Streaming first loads, a plain first load (another account), a planned update.
    assert load("kohteet", items, stream=True).inserted == len(items)
    assert load("osapuoli_yhteydet", links, stream=True).inserted == len(links)
    assert load("osapuolet", parties, stream=True).inserted == len(parties)
    assert load("kohteet", items[:3], account="acc-b").inserted == 3
    assert load("kohteet", [{**i, "Nimi": "muutettu"} for i in items]).updated == len(items)
    with engine.connect() as conn:
        for table in ("kohteet", "osapuoli_yhteydet", "osapuolet"):
            columns = [c for c in TABLES[table].columns if c.cast != "text"]
            stored = ", ".join(c.name for c in columns)
            recast = ", ".join(lenient_cast(c) for c in columns)
            differing = conn.execute(
                text(
                    f"SELECT t.account, t.id FROM tampuuri.{table} t"
                    f" WHERE ROW({stored}) IS DISTINCT FROM ROW({recast}) ORDER BY t.id"
                )
            ).all()
            assert differing == [], table
