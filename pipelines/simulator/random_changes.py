"""Realistic random changes: mostly notice status changes and new notices, some object
edits, a few party edits and new links, rare deletes of objects, parties and links."""

from __future__ import annotations

import random

from pipelines.simulator.changes import Changer, ChangeResult
from pipelines.simulator.generic_data import GenericData
from pipelines.simulator.generic_spec import GENERIC_BY_NAME
from pipelines.simulator.store import CC_METANAME

# Realistic mix of random changes: (weight, resource, op).
RANDOM_MIX: tuple[tuple[int, str, str], ...] = (
    (40, "ilmoitukset", "update"),
    (20, "ilmoitukset", "insert"),
    (15, "kohteet", "update"),
    (8, "osapuolet", "update"),
    (8, "osapuoli_yhteydet", "insert"),
    (2, "kustannuspaikat", "update"),
    (2, "kohteet", "insert"),
    (2, "osapuolet", "insert"),
    (1, "kohteet", "delete"),
    (1, "osapuolet", "delete"),
    (1, "osapuoli_yhteydet", "delete"),
)


Mix = tuple[tuple[int, str, str], ...]

# Opt-in (`random_changes(..., mix=WITH_GENERIC)`): the mix plus the generic resources.
WITH_GENERIC: Mix = (
    *RANDOM_MIX,
    (4, "vuokrasopimukset", "insert"),
    (4, "vuokrasopimukset", "update"),
    (3, "asuntotarkastukset", "insert"),
    (3, "asuntotarkastukset", "update"),
    (2, "huoltokirjan_tehtavat", "update"),
    (1, "avaimet", "update"),
    (1, "vuokrasopimukset", "delete"),
)


def random_change(
    changer: Changer, rng: random.Random, ticks: int, mix: Mix = RANDOM_MIX,
    generic: GenericData | None = None,
) -> ChangeResult | None:  # fmt: skip
    """One random change drawn from `mix` (default `RANDOM_MIX`), or None when no target fits."""
    weights = [w for w, _, _ in mix]
    _, resource, op = rng.choices(mix, weights)[0]
    spec = GENERIC_BY_NAME.get(resource)
    if spec is not None:
        if generic is None:
            return None
        ids = generic.table(spec).ids
        if op != "insert" and not ids:
            return None
        return generic.apply(spec, op, ticks, None if op == "insert" else rng.choice(ids))
    store = changer.store
    if op == "insert":
        return changer.apply(resource, op, ticks)
    ids = store.tables[resource].ids
    if not ids:
        return None
    target = rng.choice(ids)
    if resource == "kohteet":
        meta = store.tables["kohteet"].meta[target]
        if meta.metaname == CC_METANAME:
            return None
        if op == "delete" and meta.metaname not in ("autopaikka", "varasto", "sauna"):
            return None  # rare deletes hit leaves, not whole buildings
    return changer.apply(resource, op, ticks, target)
