"""The table of generic resources: routes beyond the four of section 7 (tampuuri-api.md §9).

Each entry says everything the shared code (`generic_data.py`, `generic_handlers.py`)
needs: the list route and its paging style, the filters, whether it fans out per cost
centre, the detail route, the webhook actions and the row generator (`generic_rows.py`).
Adding a resource is one entry here plus one row generator.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.simulator import generic_rows as rows

# Generic ids live outside every account's existing id span: account i, resource base b:
# GENERIC_ID_BASE + i * ACCOUNT_ID_SPAN + b (each resource has 2.5 million ids an account).
GENERIC_ID_BASE = 1_000_000_000


@dataclass(frozen=True)
class GenericResource:
    """One generic resource.

    Attributes:
        name: resource name (as in config/resources/*.yaml).
        list_method, list_segments: the list route; "#" is the cost centre of a fan-out.
        paging: "query" (Offset/Limit in the query) or "body" (in the JSON body).
        filters: which of "MuokattuAlku", "KohdeId" the list accepts.
        fan_out: listed per cost centre (the "#" of the list route).
        detail: `GET <name-prefix>/{id}` exists.
        per: "apartment" or "cost_centre": what rows are generated for.
        id_base: offset of the resource's ids inside the account's generic span.
        make: the row generator (`generic_rows.RowMaker`).
        on_insert: webhook action of an insert (None: no webhook).
        on_update: webhook action of an update (None: no webhook).
        update_needs: the update's webhook fires only when these fields are set non-null.
    """

    name: str
    list_method: str
    list_segments: tuple[str, ...]
    paging: str
    filters: tuple[str, ...]
    fan_out: bool
    detail: bool
    per: str
    id_base: int
    make: rows.RowMaker
    on_insert: str | None = None
    on_update: str | None = None
    update_needs: tuple[str, ...] = ()

    @property
    def list_template(self) -> str:
        return "/".join("{kohde_id}" if s == "#" else s for s in self.list_segments)

    @property
    def detail_segments(self) -> tuple[str, ...]:
        return (self.list_segments[0], "#")

    @property
    def detail_template(self) -> str:
        return f"{self.list_segments[0]}/{{id}}"


_SINCE_KOHDE = ("MuokattuAlku", "KohdeId")
GENERIC: tuple[GenericResource, ...] = (
    GenericResource("vuokrasopimukset", "GET", ("vuokrasopimukset", "selaa"), "query",
                    _SINCE_KOHDE, False, True, "apartment", 0, rows.LEASES,
                    "SopimusUusi", "SopimusPaattyi", ("Loppupvm",)),
    GenericResource("asuntotarkastukset", "GET", ("asuntotarkastukset", "selaa"), "query",
                    _SINCE_KOHDE, False, True, "apartment", 2_500_000, rows.INSPECTIONS,
                    "AsuntotarkastusUusi", "AsuntotarkastusTilamuutos"),
    GenericResource("huoltokirjan_tehtavat", "POST", ("huoltokirja", "#", "tehtavat", "selaa"),
                    "body", (), True, False, "cost_centre", 5_000_000, rows.TASKS),
    GenericResource("avaimet", "GET", ("avaimet", "selaa"), "query", _SINCE_KOHDE, False, False,
                    "apartment", 7_500_000, rows.KEYS),
)  # fmt: skip
GENERIC_BY_NAME = {g.name: g for g in GENERIC}


def generic_templates() -> list[tuple[str, str]]:
    """(method, template) of every generic route, for the default role and the ledger."""
    out: list[tuple[str, str]] = []
    for g in GENERIC:
        out.append((g.list_method, g.list_template))
        if g.detail:
            out.append(("GET", g.detail_template))
    return out
