"""Per-account state: rows kept pre-serialised (JSON bytes) with the indexes lists need.

Rows live as bytes, not dicts, so a million rows stay compact and a page is a join of
bytes. They go through `json_codec` both ways, as the API's .NET serialiser writes them:
decimals digit for digit (`Decimal`, a trailing zero kept), integers of any size. Each
row has a small `Meta` (timestamp and the ids lists filter on). Every mutation bumps
`version`, which invalidates the cached filtered id lists (`view`).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pipelines.simulator.config import RESOURCES
from pipelines.tampuuri import json_codec

Row = dict[str, Any]
CC_METANAME = "kustannuspaikka"


@dataclass(slots=True)
class Meta:
    ticks: int  # Muokattu as 100 ns ticks (0 for links, which carry no Muokattu)
    cc: int | None = None  # the cost centre the row belongs to
    parent: int | None = None  # objects: ParentId
    kohde: int | None = None  # links: KohdeId
    party: int | None = None  # links: OsapuoliId
    metaname: str | None = None  # objects: Metaname


class Table:
    """One resource: ascending ids, the serialised rows and their meta."""

    __slots__ = ("blobs", "ids", "meta")

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.blobs: dict[int, bytes] = {}
        self.meta: dict[int, Meta] = {}


def insert_sorted(ids: list[int], item: int) -> None:
    if not ids or item > ids[-1]:
        ids.append(item)  # new ids are running integers: the common, O(1) case
    else:
        bisect.insort(ids, item)


def remove_sorted(ids: list[int], item: int) -> None:
    index = bisect.bisect_left(ids, item)
    if index < len(ids) and ids[index] == item:
        del ids[index]


class AccountStore:
    """The data of one simulated account."""

    def __init__(self, label: str, index: int) -> None:
        self.label = label
        self.index = index
        self.tables: dict[str, Table] = {name: Table() for name in RESOURCES}
        self.objects_by_cc: dict[int, list[int]] = {}  # excludes the cost centre's own record
        self.links_by_kohde: dict[int, list[int]] = {}
        self.links_by_party: dict[int, list[int]] = {}
        self.notices_by_cc: dict[int, list[int]] = {}
        self.forbidden: set[int] = set()  # cost centres without object rights
        self.version = 0
        self.lock = threading.RLock()
        self._views: dict[tuple[Any, ...], list[int]] = {}
        self._views_version = -1

    # ---- reads -------------------------------------------------------------------------
    def blob(self, resource: str, row_id: int) -> bytes | None:
        return self.tables[resource].blobs.get(row_id)

    def meta(self, resource: str, row_id: int) -> Meta | None:
        return self.tables[resource].meta.get(row_id)

    def get(self, resource: str, row_id: int) -> Row | None:
        data = self.tables[resource].blobs.get(row_id)
        return None if data is None else json_codec.decode(data)

    def cc_of_object(self, object_id: int) -> int | None:
        meta = self.tables["kohteet"].meta.get(object_id)
        return None if meta is None else meta.cc

    def is_cost_centre(self, object_id: int) -> bool:
        return object_id in self.tables["kustannuspaikat"].blobs

    def view(self, key: tuple[Any, ...], build: Callable[[], list[int]]) -> list[int]:
        """A filtered id list, cached until the next mutation."""
        if self._views_version != self.version:
            self._views.clear()
            self._views_version = self.version
        found = self._views.get(key)
        if found is None:
            if len(self._views) > 256:
                self._views.clear()
            found = self._views[key] = build()
        return found

    def visible_ids(self, resource: str) -> list[int]:
        """Ids the account may read through the list routes (what a complete sync sees)."""
        table = self.tables[resource]
        forbidden = self.forbidden
        if resource == "kustannuspaikat":
            return table.ids
        if resource == "kohteet":
            return self.view(
                ("visible", resource),
                lambda: [
                    i
                    for i in table.ids
                    if table.meta[i].metaname != CC_METANAME and table.meta[i].cc not in forbidden
                ],
            )
        if resource == "osapuolet":
            links = self.visible_ids("osapuoli_yhteydet")
            link_meta = self.tables["osapuoli_yhteydet"].meta
            return self.view(
                ("visible", resource),
                lambda: sorted({link_meta[i].party for i in links} - {None}),  # type: ignore[arg-type]
            )
        if not forbidden:
            return table.ids
        return self.view(
            ("visible", resource),
            lambda: [i for i in table.ids if table.meta[i].cc not in forbidden],
        )

    def rows(self, resource: str, ids: Iterable[int]) -> list[Row]:
        blobs = self.tables[resource].blobs
        return [json_codec.decode(blobs[i]) for i in ids]

    # ---- writes ------------------------------------------------------------------------
    def put(self, resource: str, row: Row, ticks: int) -> None:
        """Insert or replace a row (the caller holds `lock` when threads may race)."""
        row_id = int(row["Id"])
        table = self.tables[resource]
        is_new = row_id not in table.blobs
        meta = self._meta_for(resource, row, ticks)
        if not is_new:
            self._unindex(resource, row_id, table.meta[row_id])
        table.blobs[row_id] = _dump(row)
        table.meta[row_id] = meta
        if is_new:
            insert_sorted(table.ids, row_id)
        self._index(resource, row_id, meta)
        if resource == "osapuolet" and not is_new:
            self._renest_party(row)
        self.version += 1

    def delete(self, resource: str, row_id: int) -> Row | None:
        table = self.tables[resource]
        data = table.blobs.pop(row_id, None)
        if data is None:
            return None
        meta = table.meta.pop(row_id)
        remove_sorted(table.ids, row_id)
        self._unindex(resource, row_id, meta)
        self.version += 1
        return json_codec.decode(data)  # type: ignore[no-any-return]

    def _meta_for(self, resource: str, row: Row, ticks: int) -> Meta:
        if resource == "kustannuspaikat":
            return Meta(ticks, cc=int(row["Id"]))
        if resource == "kohteet":
            return Meta(
                ticks, cc=row["KustannuspaikkaId"], parent=row["ParentId"], metaname=row["Metaname"]
            )
        if resource == "osapuoli_yhteydet":
            kohde = int(row["KohdeId"])
            return Meta(ticks, cc=self.cc_of_object(kohde), kohde=kohde, party=row["OsapuoliId"])
        if resource == "ilmoitukset":
            return Meta(ticks, cc=row["KustannuspaikkaId"])
        if resource not in RESOURCES:  # a generic resource (generic_spec.py): by its KohdeId
            of = None if row.get("KohdeId") is None else int(row["KohdeId"])
            return Meta(ticks, cc=None if of is None else self.cc_of_object(of), kohde=of)
        return Meta(ticks)

    def _indexes(self, resource: str, meta: Meta) -> list[tuple[dict[int, list[int]], int]]:
        out: list[tuple[dict[int, list[int]], int]] = []
        if resource == "kohteet" and meta.metaname != CC_METANAME and meta.cc is not None:
            out.append((self.objects_by_cc, meta.cc))
        elif resource == "osapuoli_yhteydet":
            if meta.kohde is not None:
                out.append((self.links_by_kohde, meta.kohde))
            if meta.party is not None:
                out.append((self.links_by_party, meta.party))
        elif resource == "ilmoitukset" and meta.cc is not None:
            out.append((self.notices_by_cc, meta.cc))
        return out

    def _index(self, resource: str, row_id: int, meta: Meta) -> None:
        for index, key in self._indexes(resource, meta):
            insert_sorted(index.setdefault(key, []), row_id)

    def _unindex(self, resource: str, row_id: int, meta: Meta) -> None:
        for index, key in self._indexes(resource, meta):
            ids = index.get(key)
            if ids is not None:
                remove_sorted(ids, row_id)
                if not ids:
                    del index[key]

    def _renest_party(self, party: Row) -> None:
        # Links carry the party nested; it must stay byte-identical to what `hae` serves.
        links = self.tables["osapuoli_yhteydet"]
        for link_id in self.links_by_party.get(int(party["Id"]), ()):
            link = json_codec.decode(links.blobs[link_id])
            link["Osapuoli"] = party
            links.blobs[link_id] = _dump(link)


def _dump(row: Row) -> bytes:
    return json_codec.encode(row)  # (bytes of their exact size: a million rows stay compact)
