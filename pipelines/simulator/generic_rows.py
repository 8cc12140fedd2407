"""Row generators of the generic resources (`generic_spec.py`).

A `RowMaker` says how many rows one scope (an apartment or a cost centre) gets, builds a
row from a `Seed` and proposes the default update. Every draw comes from the resource's
own random stream, never from the account's main generator.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipelines.simulator.dates import TICKS_PER_SECOND, format_ticks
from pipelines.simulator.decimals import DecimalShapes

Row = dict[str, Any]


@dataclass
class Seed:
    """What one new row is made from."""

    rng: random.Random
    id: int
    kohde: int  # the apartment, or the cost centre of a fan-out resource
    party: int | None  # a party linked to the apartment (leases' tenant)
    ticks: int  # Muokattu
    shapes: DecimalShapes


@dataclass(frozen=True)
class RowMaker:
    count: Callable[[random.Random], int]  # rows for one scope
    row: Callable[[Seed], Row]
    update: Callable[[random.Random, Row, int], dict[str, Any]]  # (rng, row, ticks)
    # Fields an update implies beyond those given (a lease's Tila follows its Loppupvm).
    implied: Callable[[dict[str, Any]], dict[str, Any]] = lambda changed: {}


def day_of(ticks: int) -> date:
    return datetime.fromtimestamp(ticks // TICKS_PER_SECOND, UTC).date()


def _day(value: date) -> str:
    return value.isoformat()  # [ASSUMED] plain 'YYYY-MM-DD' on the routes of section 9


def _near(rng: random.Random, ticks: int, before: int, after: int) -> date:
    return day_of(ticks) + timedelta(days=rng.randrange(-before, after + 1))


# ---- vuokrasopimukset ---------------------------------------------------------------------
def _lease(s: Seed) -> Row:
    rng = s.rng
    start = _near(rng, s.ticks, 1500, 0)
    ended = rng.random() < 0.2
    end = start + timedelta(days=rng.randrange(180, 1200)) if ended else None
    cents = rng.randrange(45_000, 180_000)
    return {
        "Id": s.id,
        "KohdeId": s.kohde,
        "OsapuoliId": s.party,
        "Alkupvm": _day(start),
        "Loppupvm": None if end is None else _day(end),
        "Vuokra": s.shapes.amount("Vuokra", s.id, cents),
        "Vakuus": s.shapes.amount("Vakuus", s.id, cents * rng.choice((1, 2, 3))),
        "Tila": "Päättynyt" if ended else "Voimassa",
        "Muokattu": format_ticks(s.ticks),
    }


def _end_lease(rng: random.Random, row: Row, ticks: int) -> dict[str, Any]:
    return {"Loppupvm": _day(day_of(ticks)), "Tila": "Päättynyt"}


def _lease_state(changed: dict[str, Any]) -> dict[str, Any]:
    if "Loppupvm" not in changed or "Tila" in changed:
        return {}
    return {"Tila": "Voimassa" if changed["Loppupvm"] is None else "Päättynyt"}


LEASES = RowMaker(lambda rng: 0 if rng.random() < 0.4 else 1, _lease, _end_lease, _lease_state)

# ---- asuntotarkastukset -------------------------------------------------------------------
INSPECTION_STATES = ("Suunniteltu", "Tehty", "Raportoitu", "Kuitattu")
INSPECTORS = ("Matti Mäkelä", "Liisa Österberg", 'Olli "Oltsu" Ahonen', "Kaisa Väänänen")
_POINTS = ("Keittiö", "Kylpyhuone", "Parveke", "Ikkunat", "Ovet", "Lattiat", "Sauna")
_REMARKS = (
    "Tiivisteet vaihdettava",
    "Kosteusjälki katossa",
    "Saumat halkeilleet",
    "Lukko jumittaa \\ vaihda",
    "Kunnossa 👍",
    "Maalipinta kulunut\nkorjattava",
)
URGENCIES = ("Normaali", "Kiireellinen", "Ei kiireellinen")


def _remark(rng: random.Random) -> Row:
    kohta, kuvaus = rng.choice(_POINTS), rng.choice(_REMARKS)
    return {"Kohta": kohta, "Kuvaus": kuvaus, "Kiireellisyys": rng.choice(URGENCIES)}


def _inspection(s: Seed) -> Row:
    rng = s.rng
    return {
        "Id": s.id,
        "KohdeId": s.kohde,
        "Tarkastuspvm": _day(_near(rng, s.ticks, 400, 30)),
        "Tarkastaja": rng.choice(INSPECTORS),
        "Tila": rng.choice(INSPECTION_STATES),
        "Huomiot": [_remark(rng) for _ in range(rng.randrange(5))],
        "Muokattu": format_ticks(s.ticks),
    }


def _next_inspection_state(rng: random.Random, row: Row, ticks: int) -> dict[str, Any]:
    index = INSPECTION_STATES.index(row["Tila"]) if row["Tila"] in INSPECTION_STATES else 0
    changed: dict[str, Any] = {
        "Tila": INSPECTION_STATES[min(index + 1, len(INSPECTION_STATES) - 1)]
    }
    if rng.random() < 0.5:  # the remarks are rewritten with the state, about every other time
        changed["Huomiot"] = [_remark(rng) for _ in range(rng.randrange(5))]
    return changed


INSPECTIONS = RowMaker(lambda rng: rng.randrange(3), _inspection, _next_inspection_state)

# ---- huoltokirjan_tehtavat ----------------------------------------------------------------
_TASKS = (
    ("Ilmanvaihtokanavien puhdistus", "Huolto", 60),
    ("Vesikaton tarkastus", "Tarkastus", 12),
    ("Suodattimien vaihto", "Huolto", 6),
    ("Paloilmoittimien testaus", "Turvallisuus", 12),
    ("Lämmönjakohuoneen tarkastus", "Tarkastus", 3),
    ("Pihan lumityöt", "Kiinteistönhoito", 1),
    ("Salaojien huuhtelu", "Huolto", 24),
    ("Hissin määräaikaishuolto", "Huolto", 1),
)
_PARTIES_RESPONSIBLE = ("Huoltoyhtiö", "Isännöitsijä", "Hallitus", "Urakoitsija Oy")


def _task(s: Seed) -> Row:
    rng = s.rng
    name, kind, months = rng.choice(_TASKS)
    return {
        "Id": s.id,
        "KohdeId": s.kohde,
        "Nimi": name,
        "Tehtavatyyppi": kind,
        "Vali": months,
        "Seuraava": _day(_near(rng, s.ticks, 0, 30 * months)),
        "Vastuutaho": rng.choice(_PARTIES_RESPONSIBLE),
        "Muokattu": format_ticks(s.ticks),
    }


def _task_done(rng: random.Random, row: Row, ticks: int) -> dict[str, Any]:
    return {"Seuraava": _day(day_of(ticks) + timedelta(days=30 * int(row["Vali"])))}


TASKS = RowMaker(lambda rng: rng.randrange(3, 9), _task, _task_done)

# ---- avaimet ------------------------------------------------------------------------------
KEY_TYPES = ("Huoneistoavain", "Yleisavain", "Postilaatikko", "Autotalli")


def _key(s: Seed) -> Row:
    rng = s.rng
    return {
        "Id": s.id,
        "KohdeId": s.kohde,
        "Tunniste": f"K-{rng.randrange(1000, 9999)}",
        "Tyyppi": rng.choice(KEY_TYPES),
        "Lukumaara": rng.randrange(1, 5),
        "Muokattu": format_ticks(s.ticks),
    }


def _key_count(rng: random.Random, row: Row, ticks: int) -> dict[str, Any]:
    return {"Lukumaara": int(row["Lukumaara"]) + 1}


KEYS = RowMaker(lambda rng: rng.randrange(4), _key, _key_count)
