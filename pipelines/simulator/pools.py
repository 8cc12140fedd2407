"""Small pools of Finnish names, streets, towns and texts, built once per seed.

Faker is slow per call, so it only fills these pools; the generator combines pool entries
with `random.Random(seed)`, which is what makes a million rows take seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

POOL_SIZE = 400

# Free text deliberately carries quotes, backslashes, emoji, Finnish letters and line breaks:
# the warehouse must store every one of them verbatim.
NOTICE_TITLES = (
    "Vuotava hana keittiössä",
    "Ilmanvaihto ei toimi",
    'Ulko-ovi "jumittaa" aamuisin',
    "Patteri kylmä 🥶",
    "Lamppu rikki porraskäytävässä",
    "Kiuas ei lämpene \\ sauna",
    "Hissi pysähtyy kerrosten väliin",
    "Vesivahinko kylpyhuoneessa 💧",
    "Parvekkeen lasitus irti",
    "Roskakatoksen lukko rikki",
    "Lumityöt: piha auraamatta ❄️",
    "Viemäri haisee",
    "Avain kadonnut – uusi avain",
    "Tuholaistarkastus",
)
NOTICE_BODIES = (
    "Asukas ilmoittaa: {t}. Soittakaa ennen tuloa.",
    'Huoltoyhtiö "{t}" – tarkistettava pikaisesti.',
    "Polku C:\\Huolto\\{t} (liite ei aukea)",
    "{t}\nToinen rivi: avain on naapurissa 🔑",
    "Ilmoitus vastaanotettu puhelimitse: {t}.",
)
OBJECT_NOTES = (
    None,
    None,
    None,
    "Remontoitu 2019",
    'Kulkuavain "A-sarja"',
    "Lattialämmitys \\ sähkö",
    "Lemmikkejä 🐕",
    "Parveke länteen",
)
NOTICE_STATES = (
    (1, "Uusi"),
    (2, "Vastaanotettu"),
    (3, "Työn alla"),
    (4, "Odottaa osia"),
    (5, "Tehty"),
    (6, "Valmis"),
    (7, "Peruttu"),
)
URGENCIES = ("Normaali", "Normaali", "Normaali", "Kiireellinen", "Hätätilanne")
FAULT_CLASSES = ("LVI", "Sähkö", "Rakennus", "Piha", "Hissi", "Ilmanvaihto", "Lukitus", "Muu")
ROLES_CURRENT = ("Asukas", "Vuokralainen", "Asukas", "Yhteyshenkilö")
_PLACE_STEMS = (
    "Koivu",
    "Kuusi",
    "Mänty",
    "Pihlaja",
    "Vaahtera",
    "Tammi",
    "Lehmus",
    "Kataja",
    "Haapa",
    "Kallio",
    "Ranta",
    "Niitty",
    "Tähti",
    "Aurinko",
    "Satama",
    "Puisto",
    "Harju",
    "Lähde",
)
_PLACE_SUFFIXES = ("rinne", "kuja", "hovi", "linna", "piha", "mäki", "lehto", "tie")
AUTH_METHODS = (None, None, "Suomi.fi", "Pankkitunnus", "Mobiilivarmenne")


@dataclass(frozen=True)
class Pools:
    """Pre-built value pools for one seed."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    towns: tuple[tuple[str, str], ...]  # (postcode, town)
    companies: tuple[str, ...]
    place_words: tuple[str, ...]
    long_text: str


def build_pools(seed: int) -> Pools:
    """Fill the pools from Faker's Finnish locale, deterministically for `seed`."""
    fake = Faker("fi_FI")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    towns = tuple((fake.postcode(), fake.city()) for _ in range(POOL_SIZE // 4))
    words = tuple(f"{a}{b}" for a in _PLACE_STEMS for b in _PLACE_SUFFIXES)
    # A long free text (> 2 kB) with a sentence the locale offers, Finnish letters and emoji.
    long_text = " ".join(fake.sentence() for _ in range(40)) + " Äöå 🏠 " * 60
    companies = tuple(
        f"{fake.last_name()} {rng.choice(('Oy', 'Ab', 'Ky', 'Tmi', 'Oyj'))}"
        for _ in range(POOL_SIZE // 4)
    )
    return Pools(
        first_names=tuple(fake.first_name() for _ in range(POOL_SIZE)),
        last_names=tuple(fake.last_name() for _ in range(POOL_SIZE)),
        streets=tuple(fake.street_name() for _ in range(POOL_SIZE)),
        towns=towns,
        companies=companies,
        place_words=words,
        long_text=long_text,
    )


def y_tunnus(rng: random.Random) -> str:
    """A Finnish business id `1234567-8` whose check digit is valid."""
    weights = (7, 9, 10, 5, 8, 4, 2)
    while True:
        digits = [rng.randrange(10) for _ in range(7)]
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder == 1:  # no valid check digit exists for these digits
            continue
        check = 0 if remainder == 0 else 11 - remainder
        return "".join(map(str, digits)) + f"-{check}"
