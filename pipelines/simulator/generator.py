"""Deterministic Finnish housing data: cost centres, object trees, parties, links, notices.
The mix follows the reference portfolio (300 cost centres, 12,000 apartments, 25,000
parties): per cost centre ~32 apartments and 40 objects; per apartment ~2 parties and 2
links; notices for ~10 % of apartments (`ROWS_PER_COST_CENTRE` rows a cost centre)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pipelines.simulator.dates import TICKS_PER_SECOND, format_date, format_ticks
from pipelines.simulator.dates import ticks_from_datetime as _ticks
from pipelines.simulator.decimals import DecimalShapes
from pipelines.simulator.pools import (
    AUTH_METHODS,
    FAULT_CLASSES,
    NOTICE_BODIES,
    NOTICE_STATES,
    NOTICE_TITLES,
    OBJECT_NOTES,
    ROLES_CURRENT,
    URGENCIES,
    Pools,
    y_tunnus,
)

Row = dict[str, Any]
Sink = Callable[[str, Row, int], None]  # the store's add(resource, row, ticks of Muokattu)

ACCOUNT_ID_SPAN = 10_000_000  # ids of account i live in [i * span, (i + 1) * span)
ID_BASES = {"kohteet": 100_000, "osapuolet": 3_000_000, "osapuoli_yhteydet": 6_000_000,
            "ilmoitukset": 8_500_000}  # fmt: skip
APARTMENTS_PER_COST_CENTRE = 32
ROWS_PER_APARTMENT = 5.35  # 1.3 objects + 2 parties + 2 links + 0.1 notices, roughly
MIN_COST_CENTRES = 3
GENERATED_FROM = _ticks(datetime(2022, 1, 1, tzinfo=UTC))
GENERATED_UNTIL = _ticks(datetime(2025, 6, 30, 12, tzinfo=UTC))  # data is "as of" this time
COMPANY_ID = 1000  # YritysId: the property-management firm that owns the party records


class Factory:
    """Builds rows for one account; used by the initial generation and by later changes."""

    def __init__(self, pools: Pools, rng: random.Random, account_index: int) -> None:
        self.pools = pools
        self.rng = rng
        offset = account_index * ACCOUNT_ID_SPAN
        # Cost centres share the object id space (a cost centre is an object).
        self._next = {name: offset + base for name, base in ID_BASES.items()}
        self.company_id = COMPANY_ID + account_index
        self.decimals = DecimalShapes(rng.getstate())  # (draws nothing from rng)

    def next_id(self, resource: str) -> int:
        key = "kohteet" if resource == "kustannuspaikat" else resource
        self._next[key] += 1
        return self._next[key]

    def past_ticks(self) -> int:
        return self.rng.randrange(GENERATED_FROM, GENERATED_UNTIL)

    def _maybe_extra(self, row: Row) -> None:
        # The API evolves: a few items carry fields the contract does not name.
        if self.rng.random() < 0.05:
            row["Lisäkenttä"] = {"Koodi": self.rng.randrange(100), "Kuvaus": "uusi kenttä"}
        big = self.decimals.big_integer(row["Id"])
        if big is not None:  # an integer beyond 64 bits, in a field no column types
            row.setdefault("Lisäkenttä", {})["Viite"] = big

    def _address(self) -> tuple[str, str, str]:
        postcode, town = self.rng.choice(self.pools.towns)
        street = f"{self.rng.choice(self.pools.streets)} {self.rng.randrange(1, 60)}"
        return street, postcode, town

    def cost_centre(self, ticks: int) -> tuple[Row, Row]:
        """A cost centre (housing company) and its own object record, same Id."""
        rng = self.rng
        cc_id = self.next_id("kohteet")
        street, postcode, town = self._address()
        kind = rng.choices(("Asunto-osakeyhtiö", "Kiinteistöosakeyhtiö", "Vuokratalo"), (8, 1, 1))[
            0
        ]
        prefix = {"Asunto-osakeyhtiö": "As Oy", "Kiinteistöosakeyhtiö": "Kiinteistö Oy"}
        name = f"{prefix.get(kind, 'Vuokratalo')} {rng.choice(self.pools.place_words)}"
        if rng.random() < 0.3:
            name += f" {rng.randrange(2, 6)}"
        muokattu = format_ticks(ticks)
        row: Row = {
            "Id": cc_id, "Nimi": name, "YTunnus": y_tunnus(rng), "Tyyppi": kind,
            "Katuosoite": street, "Postinumero": postcode, "Postitoimipaikka": town,
            "Muokattu": muokattu,
        }  # fmt: skip
        if rng.random() < 0.3:
            row["Rakennusvuosi"] = rng.randrange(1950, 2024)
        record = self.object_row(cc_id, None, cc_id, "kustannuspaikka", name, None, ticks)
        return row, record

    def object_row(
        self,
        object_id: int,
        parent_id: int | None,
        cc_id: int,
        metaname: str,
        name: str,
        tunnus: str | None,
        ticks: int,
    ) -> Row:
        rng = self.rng
        is_apartment = metaname == "huoneisto"
        row: Row = {
            "Id": object_id,
            "ParentId": parent_id,
            "KustannuspaikkaId": cc_id,
            "Metaname": metaname,
            "TypeId": _TYPE_IDS[metaname],
            "Nimi": name,
            "Tunnus": tunnus,
            "Huoneistoala": self.decimals.area(object_id, rng.randrange(24, 140), rng.randrange(10))
            if is_apartment
            else None,
            "HuoneistotyyppiId": rng.randrange(1, 7) if is_apartment else None,
            "Lisätiedot": rng.choice(OBJECT_NOTES),
            "Muokattu": format_ticks(ticks),
        }
        self._maybe_extra(row)
        return row

    def party(self, ticks: int, *, company: bool = False) -> Row:
        rng, pools = self.rng, self.pools
        street, postcode, town = self._address()
        if company:
            name = rng.choice(pools.companies)
            email = f"info@{name.split()[0].lower()}.fi"
        else:
            first, last = rng.choice(pools.first_names), rng.choice(pools.last_names)
            name = f"{last} {first}"
            email = f"{first.lower()}.{last.lower()}{rng.randrange(100)}@example.fi"
        row: Row = {
            "Id": self.next_id("osapuolet"),
            "YritysId": self.company_id,
            "Nimi": name,
            "Osapuolityyppi": "Yritys" if company else "Henkilö",
            # About 2-3 % of persons are under a non-disclosure order.
            "Turvakielto": (not company) and rng.random() < 0.027,
            "Sahkoposti": email if rng.random() < 0.9 else None,
            "Puhelin": f"+358 4{rng.randrange(10)} {rng.randrange(1000000, 9999999)}",
            "Katuosoite": street,
            "Postinumero": postcode,
            "Postitoimipaikka": town,
            "Tunnistautuminen": rng.choice(AUTH_METHODS),
            "Parametrit": (
                [{"ParametriId": 10, "Nimi": "Markkinointilupa", "Arvo": rng.random() < 0.5}]
                if rng.random() < 0.2
                else []
            ),
            "Muokattu": format_ticks(ticks),
        }
        return row

    def link(self, party: Row, kohde_id: int, role: str, start: date, end: date | None) -> Row:
        # The nested party is the very dict `osapuolitiedot/osapuolet/hae` serves.
        return {
            "Id": self.next_id("osapuoli_yhteydet"),
            "OsapuoliId": party["Id"],
            "KohdeId": kohde_id,
            "Rooli": role,
            "Alkupvm": format_date(start),
            "Loppupvm": format_date(end) if end else None,
            "Osapuoli": party,
        }

    def start_date(self) -> date:
        return date(2005, 1, 1) + timedelta(days=self.rng.randrange(7300))

    def notice(
        self, cc_id: int, room_id: int | None, reporter_id: int | None, ticks: int, *,
        created: int | None = None, state: tuple[int, str] | None = None,
    ) -> Row:  # fmt: skip
        rng = self.rng
        title = rng.choice(NOTICE_TITLES)
        body = rng.choice(NOTICE_BODIES).format(t=title.lower())
        if rng.random() < 0.03:
            body = f"{body} {self.pools.long_text}"
        state_id, state_name = state or rng.choices(NOTICE_STATES, (3, 2, 3, 1, 4, 10, 1))[0]
        luotu = (
            created if created is not None else ticks - rng.randrange(90 * 86400) * TICKS_PER_SECOND
        )
        notice_id = self.next_id("ilmoitukset")
        row: Row = {
            "Id": notice_id,
            "KustannuspaikkaId": cc_id,
            "TilaId": state_id,
            "HuoneId": room_id,
            "Otsikko": title,
            "TyotehtavanKuvaus": body,
            "Tila": state_name,
            "Kiireellisyys": rng.choice(URGENCIES),
            "Vikaluokka": rng.choice(FAULT_CLASSES),
            "Kustannusarvio": self._cost_estimate(notice_id, rng.uniform(40, 4000))
            if rng.random() < 0.6
            else None,
            "TyonsuorittajaId": rng.randrange(500, 520) if rng.random() < 0.7 else None,
            "IlmoittajaId": reporter_id,
            "Luotu": format_ticks(min(luotu, ticks)),
            "Muokattu": format_ticks(ticks),
        }
        self._maybe_extra(row)
        return row

    def _cost_estimate(self, notice_id: int, euros: float) -> Decimal | int:
        return self.decimals.money(notice_id, round(euros * 100))


_TYPE_IDS = {"kustannuspaikka": 1, "rakennus": 2, "porras": 3, "huoneisto": 4, "sauna": 5,
             "varasto": 6, "autopaikka": 7}  # fmt: skip
STAIRCASE_LETTERS = "ABCDEFGHJK"


def plan_cost_centres(scale: int, rng: random.Random) -> list[int]:
    """Apartments per cost centre so that the total row count is about `scale`."""
    count = max(
        MIN_COST_CENTRES, round(scale / (1 + ROWS_PER_APARTMENT * APARTMENTS_PER_COST_CENTRE))
    )
    mean = max(2.0, (scale / count - 1) / ROWS_PER_APARTMENT)
    return [max(2, round(mean * rng.uniform(0.5, 1.5))) for _ in range(count)]


def generate_cost_centre(factory: Factory, apartments: int, sink: Sink) -> None:
    """One cost centre with buildings, staircases, apartments, amenities, parties, notices."""
    rng = factory.rng
    cc_ticks = factory.past_ticks()
    cc_row, record = factory.cost_centre(cc_ticks)
    cc_id = cc_row["Id"]
    sink("kustannuspaikat", cc_row, cc_ticks)
    sink("kohteet", record, cc_ticks)

    def add_object(parent: int, metaname: str, name: str, tunnus: str | None = None) -> int:
        ticks = factory.past_ticks()
        row = factory.object_row(
            factory.next_id("kohteet"), parent, cc_id, metaname, name, tunnus, ticks
        )
        sink("kohteet", row, ticks)
        return int(row["Id"])

    buildings = max(1, apartments // 24 + (1 if apartments % 24 > 12 else 0))
    apartment_ids: list[int] = []
    letter = 0
    per_building = -(-apartments // buildings)
    remaining = apartments
    for b in range(buildings):
        building = add_object(cc_id, "rakennus", f"Rakennus {b + 1}")
        in_building = min(per_building, remaining)
        remaining -= in_building
        stairs = max(1, min(3, in_building // 10))
        per_stair = -(-in_building // stairs) if in_building else 0
        for s in range(stairs):
            code = STAIRCASE_LETTERS[letter % len(STAIRCASE_LETTERS)]
            letter += 1
            stair = add_object(building, "porras", f"Porras {code}")
            for n in range(min(per_stair, in_building - s * per_stair)):
                tunnus = f"{code} {n + 1}"
                apartment_ids.append(add_object(stair, "huoneisto", f"Huoneisto {tunnus}", tunnus))
        add_object(building, "sauna", f"Sauna {b + 1}")
    add_object(cc_id, "varasto", "Irtaimistovarasto")
    for p in range(max(1, apartments // 8)):
        add_object(cc_id, "autopaikka", f"Autopaikka {p + 1}", f"AP {p + 1}")

    residents: list[int] = []
    for apartment in apartment_ids:
        ticks = factory.past_ticks()
        owner = factory.party(ticks, company=rng.random() < 0.08)
        sink("osapuolet", owner, ticks)
        start = factory.start_date()
        link = factory.link(owner, apartment, "Omistaja", start, None)
        sink("osapuoli_yhteydet", link, 0)
        if rng.random() < 0.85:
            ticks = factory.past_ticks()
            resident = factory.party(ticks)
            sink("osapuolet", resident, ticks)
            begin = factory.start_date()
            end = begin + timedelta(days=rng.randrange(100, 2000)) if rng.random() < 0.1 else None
            link = factory.link(resident, apartment, rng.choice(ROLES_CURRENT), begin, end)
            sink("osapuoli_yhteydet", link, 0)
            residents.append(int(resident["Id"]))
        if rng.random() < 0.15:  # an earlier owner whose link has ended
            ticks = factory.past_ticks()
            former = factory.party(ticks)
            sink("osapuolet", former, ticks)
            end = start - timedelta(days=1)
            link = factory.link(former, apartment, "Omistaja", end - timedelta(days=3000), end)
            sink("osapuoli_yhteydet", link, 0)

    notices = max(1, round(apartments * rng.uniform(0.06, 0.14)))
    for _ in range(notices):
        room = rng.choice(apartment_ids) if apartment_ids and rng.random() < 0.8 else None
        reporter = rng.choice(residents) if residents and rng.random() < 0.7 else None
        ticks = factory.past_ticks()
        sink("ilmoitukset", factory.notice(cc_id, room, reporter, ticks), ticks)
