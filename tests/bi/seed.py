"""Seed helpers for the BI view tests: crafted rows written straight into tampuuri.* and ops.*.

Rows carry only what the views read plus a `data` item shaped like the API's, so that a
leak of `data` would show up in the security tests.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

HELSINKI_TODAY = "(now() AT TIME ZONE 'Europe/Helsinki')::date"


def helsinki_today(conn: Connection) -> date:
    return conn.execute(text(f"SELECT {HELSINKI_TODAY}")).scalar_one()


def helsinki_noon(conn: Connection, days_ago: int, hour: int = 12) -> datetime:
    """A timestamptz at `hour` o'clock Helsinki time, `days_ago` Helsinki days ago."""
    return conn.execute(
        text(
            f"SELECT (({HELSINKI_TODAY} - :days) + make_time(:hour, 0, 0))"
            " AT TIME ZONE 'Europe/Helsinki'"
        ),
        {"days": days_ago, "hour": hour},
    ).scalar_one()


def _insert(conn: Connection, table: str, row: dict[str, Any], data: dict[str, Any]) -> None:
    # Table and column names come from the tests' own literals, values are bound.
    columns = [*row, "data", "row_hash"]
    params = {**row, "data": json.dumps(data, default=str), "row_hash": uuid.uuid4().hex}
    placeholders = ", ".join(
        "CAST(:data AS jsonb)" if column == "data" else f":{column}" for column in columns
    )
    conn.execute(
        text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"), params
    )


def add_cost_centre(conn: Connection, account: str, id: int, nimi: str) -> None:
    _insert(
        conn,
        "tampuuri.kustannuspaikat",
        {"account": account, "id": id, "nimi": nimi},
        {"Id": id, "Nimi": nimi},
    )


def add_object(
    conn: Connection,
    account: str,
    id: int,
    *,
    cost_centre: int,
    metaname: str = "huoneisto",
    tunnus: str | None = None,
    deleted: bool = False,
) -> None:
    row = {
        "account": account,
        "id": id,
        "kustannuspaikka_id": cost_centre,
        "parent_id": cost_centre,
        "metaname": metaname,
        "tunnus": tunnus,
        "nimi": f"{metaname} {tunnus or id}",
        "lisatiedot": "ovikoodi 1234",
        "deleted_at": datetime(2025, 1, 1) if deleted else None,
    }
    _insert(
        conn,
        "tampuuri.kohteet",
        row,
        {"Id": id, "Metaname": metaname, "Lisätiedot": "ovikoodi 1234"},
    )


def add_party(
    conn: Connection,
    account: str,
    id: int,
    nimi: str,
    *,
    turvakielto: bool | None,
    katuosoite: str,
    puhelin: str,
    sahkoposti: str,
    postinumero: str = "00100",
    postitoimipaikka: str = "Helsinki",
    tunnistautuminen: str = "010101-123A",
    deleted: bool = False,
) -> None:
    row = {
        "account": account,
        "id": id,
        "nimi": nimi,
        "osapuolityyppi": "Henkilö",
        "turvakielto": turvakielto,
        "katuosoite": katuosoite,
        "puhelin": puhelin,
        "sahkoposti": sahkoposti,
        "postinumero": postinumero,
        "postitoimipaikka": postitoimipaikka,
        "deleted_at": datetime(2025, 1, 1) if deleted else None,
    }
    data = {
        "Id": id,
        "Nimi": nimi,
        "Osapuolityyppi": "Henkilö",
        "Turvakielto": turvakielto,
        "Katuosoite": katuosoite,
        "Puhelin": puhelin,
        "Sahkoposti": sahkoposti,
        "Postinumero": postinumero,
        "Postitoimipaikka": postitoimipaikka,
        "Tunnistautuminen": tunnistautuminen,
    }
    _insert(conn, "tampuuri.osapuolet", row, data)


def add_link(
    conn: Connection,
    account: str,
    id: int,
    *,
    party: int,
    kohde: int,
    rooli: str,
    alkupvm: date | None,
    loppupvm: date | None,
    nested: dict[str, Any] | None = None,
    deleted: bool = False,
) -> None:
    row = {
        "account": account,
        "id": id,
        "osapuoli_id": party,
        "kohde_id": kohde,
        "rooli": rooli,
        "alkupvm": alkupvm,
        "loppupvm": loppupvm,
        "deleted_at": datetime(2025, 1, 1) if deleted else None,
    }
    data = {
        "Id": id,
        "OsapuoliId": party,
        "KohdeId": kohde,
        "Rooli": rooli,
        "Osapuoli": nested or {},
    }
    _insert(conn, "tampuuri.osapuoli_yhteydet", row, data)


def add_notice(
    conn: Connection,
    account: str,
    id: int,
    *,
    cost_centre: int,
    luotu: datetime,
    tila: str | None,
    huone_id: int | None = None,
    kiireellisyys: str | None = "Normaali",
    vikaluokka: str | None = "LVI",
    muokattu: datetime | None = None,
    deleted: bool = False,
) -> None:
    row = {
        "account": account,
        "id": id,
        "kustannuspaikka_id": cost_centre,
        "luotu": luotu,
        "muokattu": muokattu or luotu,
        "tila": tila,
        "huone_id": huone_id,
        "kiireellisyys": kiireellisyys,
        "vikaluokka": vikaluokka,
        "otsikko": "Vuotava hana",
        "tyotehtavan_kuvaus": "Soita Liisalle 040 111",
        "deleted_at": datetime(2025, 1, 1) if deleted else None,
    }
    _insert(conn, "tampuuri.ilmoitukset", row, {"Id": id, "Tila": tila})


def add_notice_version(
    conn: Connection,
    account: str,
    id: int,
    *,
    tila: str,
    valid_from: datetime,
    muokattu: datetime | None,
) -> None:
    """One history version; the previous open version of the notice is closed."""
    conn.execute(
        text(
            "UPDATE tampuuri.ilmoitukset_history SET valid_to = :at"
            " WHERE account = :account AND id = :id AND valid_to IS NULL"
        ),
        {"account": account, "id": id, "at": valid_from},
    )
    data: dict[str, Any] = {"Id": id, "Tila": tila}
    if muokattu is not None:
        data["Muokattu"] = muokattu.isoformat()
    conn.execute(
        text(
            "INSERT INTO tampuuri.ilmoitukset_history"
            " (account, id, valid_from, row_hash, data)"
            " VALUES (:account, :id, :valid_from, :hash, CAST(:data AS jsonb))"
        ),
        {
            "account": account,
            "id": id,
            "valid_from": valid_from,
            "hash": uuid.uuid4().hex,
            "data": json.dumps(data),
        },
    )
