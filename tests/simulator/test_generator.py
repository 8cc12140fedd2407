"""The generated data: deterministic by seed, sized by `scale`, realistic Finnish housing
(valid Y-tunnus, object trees, Turvakielto share, awkward free text), ids per account."""

from __future__ import annotations

import random

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.config import RESOURCES
from pipelines.simulator.dates import format_ticks, parse_ticks
from pipelines.simulator.generator import ACCOUNT_ID_SPAN
from pipelines.simulator.pools import y_tunnus


def _counts(sim: Simulator, account: str) -> dict[str, int]:
    return {r: len(sim.items(account, r)) for r in RESOURCES}


def test_same_seed_same_data_other_seed_other_data():
    a = Simulator(SimulatorConfig(seed=5, scale=400, accounts=("demo-a",)))
    b = Simulator(SimulatorConfig(seed=5, scale=400, accounts=("demo-a",)))
    c = Simulator(SimulatorConfig(seed=6, scale=400, accounts=("demo-a",)))
    for resource in RESOURCES:
        assert a.items("demo-a", resource) == b.items("demo-a", resource)
    assert a.items("demo-a", "osapuolet") != c.items("demo-a", "osapuolet")


def test_scale_and_minimum_cost_centres():
    small = Simulator(SimulatorConfig(seed=1, scale=200, accounts=("demo-a",)))
    counts = _counts(small, "demo-a")
    assert counts["kustannuspaikat"] >= 3
    assert 150 <= sum(counts.values()) <= 300
    big = Simulator(SimulatorConfig(seed=1, scale=20_000, accounts=("demo-a",)))
    counts = _counts(big, "demo-a")
    assert 17_000 <= sum(counts.values()) <= 23_000
    # The reference mix: ~40 objects per cost centre, ~2 parties and links per apartment.
    apartments = sum(o["Metaname"] == "huoneisto" for o in big.items("demo-a", "kohteet"))
    assert 30 <= counts["kohteet"] / counts["kustannuspaikat"] <= 55
    assert 1.7 <= counts["osapuolet"] / apartments <= 2.3
    assert 1.7 <= counts["osapuoli_yhteydet"] / apartments <= 2.3
    assert 0.05 <= counts["ilmoitukset"] / apartments <= 0.15


def test_accounts_have_disjoint_ids_and_own_data(sim):
    for resource in RESOURCES:
        a = {row["Id"] for row in sim.items("demo-a", resource)}
        b = {row["Id"] for row in sim.items("demo-b", resource)}
        assert a and b and not a & b
        assert all(i < ACCOUNT_ID_SPAN for i in a) and all(i >= ACCOUNT_ID_SPAN for i in b)


def test_realistic_content():
    sim = Simulator(SimulatorConfig(seed=1, scale=20_000, accounts=("demo-a",)))
    weights = (7, 9, 10, 5, 8, 4, 2)
    for cc in sim.items("demo-a", "kustannuspaikat"):
        digits, check = cc["YTunnus"].split("-")
        remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
        assert int(check) == (0 if remainder == 0 else 11 - remainder)
    objects = sim.items("demo-a", "kohteet")
    by_id = {o["Id"]: o for o in objects}
    apartments = [o for o in objects if o["Metaname"] == "huoneisto"]
    assert all(o["Tunnus"][0].isalpha() for o in apartments)
    # Areas as a .NET API writes decimals: 28-29 digits, a trailing zero, integers, plain.
    areas = [str(o["Huoneistoala"]) for o in apartments]
    assert any(len(a.replace(".", "")) >= 28 for a in areas)
    assert any(a.endswith("0") and "." in a for a in areas)
    assert any(type(o["Huoneistoala"]) is int for o in apartments)
    assert all(o["ParentId"] in by_id or o["ParentId"] == o["KustannuspaikkaId"] for o in objects)
    assert {o["Metaname"] for o in objects} >= {
        "rakennus",
        "porras",
        "huoneisto",
        "sauna",
        "autopaikka",
    }
    parties = sim.items("demo-a", "osapuolet")
    persons = [p for p in parties if p["Osapuolityyppi"] == "Henkilö"]
    share = sum(p["Turvakielto"] for p in persons) / len(persons)
    assert 0.015 <= share <= 0.04
    assert any(p["Osapuolityyppi"] == "Yritys" for p in parties)
    notices = sim.items("demo-a", "ilmoitukset")
    text = " ".join(n["Otsikko"] + n["TyotehtavanKuvaus"] for n in notices)
    for needle in ('"', "\\", "💧", "\n"):
        assert needle in text
    assert max(len(n["TyotehtavanKuvaus"]) for n in notices) > 2000
    assert {n["Tila"] for n in notices} >= {"Uusi", "Työn alla", "Tehty", "Valmis"}
    # The API evolves: some items carry fields the contract does not name.
    assert any("Lisäkenttä" in o for o in objects)


def test_y_tunnus_and_dates_round_trip():
    rng = random.Random(1)
    assert all(len(y_tunnus(rng)) == 9 for _ in range(100))
    stamp = "2025-04-20T00:37:45.8617613+03:00"
    assert format_ticks(parse_ticks(stamp)) == stamp
    assert format_ticks(parse_ticks("2025-01-20T00:37:45.8617613Z")).endswith("+02:00")
