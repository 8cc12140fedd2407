"""Changes to an account's data and the webhook notifications Tampuuri would send for them.

Event names for notices and the object register come from section 5 of tampuuri-api.md
(`IlmoitusUusi`, `IlmoitusTilamuutos`, `KohderekisteriTietoMuokkaa`); the others follow
the same naming and are the project's assumption. No event exists for a deleted notice or
link or for a changed link: those only show up in a later scan (as in Tampuuri, where
webhooks cover some changes and a reconciliation sweep the rest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from pipelines.simulator.dates import format_date, format_ticks
from pipelines.simulator.generator import Factory
from pipelines.simulator.pools import NOTICE_STATES
from pipelines.simulator.store import CC_METANAME, AccountStore, Row

OPS = ("insert", "update", "delete")
# Normal life of a notice: each status change moves it one step along.
_NEXT_STATE = {1: 2, 2: 3, 3: 5, 4: 3, 5: 6, 6: 6, 7: 7}
_STATES = dict(NOTICE_STATES)


class ChangeError(ValueError):
    """A change request names an unknown row, resource or operation."""


@dataclass
class ChangeResult:
    resource: str
    op: str
    id: int
    notifications: list[dict[str, Any]] = field(default_factory=list)


def notification(
    action: str, account: str, ref: int, secondary: int | None, ticks: int, data: Any = None
) -> dict[str, Any]:
    """One webhook notification as Tampuuri bundles it."""
    return {
        "Action": action,
        "Account": account,
        "ReferenceId": ref,
        "ReferenceSecondaryId": secondary,
        "ReferenceData": None if data is None else str(data),
        "ReferenceJson": None if data is None else orjson.dumps(data).decode(),
        "Timestamp": format_ticks(ticks),
    }


class Changer:
    """Applies inserts, updates and deletes to one account and reports the events."""

    def __init__(self, store: AccountStore, factory: Factory, account_name: str) -> None:
        self.store = store
        self.factory = factory
        self.account_name = account_name  # the `Account` field of notifications

    def _event(self, result: ChangeResult, action: str, ref: int, sec: int | None, ticks: int,
               data: Any = None) -> None:  # fmt: skip
        result.notifications.append(notification(action, self.account_name, ref, sec, ticks, data))

    def apply(
        self, resource: str, op: str, ticks: int, row_id: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> ChangeResult:  # fmt: skip
        """Apply one change at time `ticks` (becomes the row's `Muokattu`)."""
        if resource not in self.store.tables:
            raise ChangeError(f"unknown resource {resource!r}")
        if op not in OPS:
            raise ChangeError(f"unknown op {op!r}; use insert, update or delete")
        with self.store.lock:
            if op == "insert":
                return self._insert(resource, ticks, dict(fields or {}))
            if row_id is None or self.store.blob(resource, row_id) is None:
                raise ChangeError(f"{resource} {row_id} does not exist")
            if op == "update":
                return self._update(resource, row_id, ticks, dict(fields or {}))
            return self._delete(resource, row_id, ticks)

    # ---- insert ------------------------------------------------------------------------
    def _pick_cc(self, fields: dict[str, Any]) -> int:
        cc = fields.get("KustannuspaikkaId")
        ids = self.store.tables["kustannuspaikat"].ids
        if cc is None:
            if not ids:
                raise ChangeError("the account has no cost centres")
            return self.factory.rng.choice(ids)
        if not self.store.is_cost_centre(int(cc)):
            raise ChangeError(f"cost centre {cc} does not exist")
        return int(cc)

    def _pick_apartment(self, cc: int | None = None) -> int | None:
        store = self.store
        pool = store.objects_by_cc.get(cc, []) if cc is not None else store.tables["kohteet"].ids
        meta = store.tables["kohteet"].meta
        for _ in range(20):
            if not pool:
                return None
            candidate = self.factory.rng.choice(pool)
            if meta[candidate].metaname == "huoneisto":
                return candidate
        return None

    def _insert(self, resource: str, ticks: int, fields: dict[str, Any]) -> ChangeResult:
        store, factory = self.store, self.factory
        fields.pop("Id", None)
        if resource == "kustannuspaikat":
            row, record = factory.cost_centre(ticks)
            row.update(fields)
            record["Nimi"] = row["Nimi"]
            store.put("kustannuspaikat", row, ticks)
            store.put("kohteet", record, ticks)
            result = ChangeResult(resource, "insert", row["Id"])
            self._event(result, "KustannuspaikkaMuokkaa", row["Id"], None, ticks)
            return result
        if resource == "kohteet":
            parent = fields.get("ParentId")
            if parent is not None:
                cc = store.cc_of_object(int(parent))
                if cc is None:
                    raise ChangeError(f"parent object {parent} does not exist")
            else:
                cc = self._pick_cc(fields)
                parent = cc
            metaname = fields.get("Metaname", "autopaikka")
            new_id = factory.next_id("kohteet")
            row = factory.object_row(
                new_id, int(parent), cc, metaname, f"Uusi {metaname}", None, ticks
            )
            row.update(
                {k: v for k, v in fields.items() if k not in ("ParentId", "KustannuspaikkaId")}
            )
            store.put("kohteet", row, ticks)
            result = ChangeResult(resource, "insert", new_id)
            self._event(result, "KohderekisteriTietoUusi", new_id, cc, ticks)
            return result
        if resource == "osapuolet":
            row = factory.party(ticks, company=bool(fields.get("Osapuolityyppi") == "Yritys"))
            row.update(fields)
            store.put("osapuolet", row, ticks)
            result = ChangeResult(resource, "insert", row["Id"])
            self._event(result, "OsapuoliUusi", row["Id"], None, ticks)
            return result
        if resource == "osapuoli_yhteydet":
            return self._insert_link(ticks, fields)
        cc = self._pick_cc(fields)
        room = fields.get("HuoneId", self._pick_apartment(cc))
        row = factory.notice(
            cc, room, fields.get("IlmoittajaId"), ticks, created=ticks, state=(1, "Uusi")
        )
        row.update({k: v for k, v in fields.items() if k != "KustannuspaikkaId"})
        store.put("ilmoitukset", row, ticks)
        result = ChangeResult(resource, "insert", row["Id"])
        self._event(result, "IlmoitusUusi", row["Id"], cc, ticks)
        return result

    def _insert_link(self, ticks: int, fields: dict[str, Any]) -> ChangeResult:
        store, factory = self.store, self.factory
        party_id = fields.get("OsapuoliId")
        if party_id is None:
            parties = store.tables["osapuolet"].ids
            if not parties:
                raise ChangeError("the account has no parties")
            party_id = factory.rng.choice(parties)
        party = store.get("osapuolet", int(party_id))
        if party is None:
            raise ChangeError(f"party {party_id} does not exist")
        kohde = fields.get("KohdeId", self._pick_apartment())
        if kohde is None or store.blob("kohteet", int(kohde)) is None:
            raise ChangeError(f"object {kohde} does not exist")
        start = datetime.fromtimestamp(ticks // 10_000_000, UTC).date()
        row = factory.link(party, int(kohde), fields.get("Rooli", "Asukas"), start, None)
        row.update({k: v for k, v in fields.items() if k not in ("OsapuoliId", "KohdeId")})
        store.put("osapuoli_yhteydet", row, 0)
        result = ChangeResult("osapuoli_yhteydet", "insert", row["Id"])
        # The event's ReferenceId is the object, the secondary id the party.
        self._event(result, "OsapuoliKohdeLiitosUusi", int(kohde), int(party_id), ticks)
        return result

    # ---- update ------------------------------------------------------------------------
    def _update(
        self, resource: str, row_id: int, ticks: int, fields: dict[str, Any]
    ) -> ChangeResult:
        store = self.store
        row = store.get(resource, row_id)
        assert row is not None
        fields.pop("Id", None)
        if not fields:
            fields = self._default_update(resource, row)
        row.update(fields)
        if resource != "osapuoli_yhteydet":
            row["Muokattu"] = format_ticks(ticks)
        result = ChangeResult(resource, "update", row_id)
        if resource == "kustannuspaikat":
            store.put(resource, row, ticks)
            record = store.get("kohteet", row_id)
            if record is not None:
                record["Nimi"] = row["Nimi"]
                record["Muokattu"] = row["Muokattu"]
                store.put("kohteet", record, ticks)
            self._event(result, "KustannuspaikkaMuokkaa", row_id, None, ticks)
        elif resource == "kohteet":
            store.put(resource, row, ticks)
            meta = store.meta("kohteet", row_id)
            self._event(
                result, "KohderekisteriTietoMuokkaa", row_id, meta.cc if meta else None, ticks
            )
        elif resource == "osapuolet":
            store.put(resource, row, ticks)
            self._event(result, "OsapuoliMuokkaa", row_id, None, ticks)
        elif resource == "osapuoli_yhteydet":
            party = store.get("osapuolet", int(row["OsapuoliId"]))
            row["Osapuoli"] = party
            store.put(resource, row, 0)
        else:
            if "TilaId" in fields and "Tila" not in fields:
                row["Tila"] = _STATES.get(int(row["TilaId"]), row.get("Tila"))
            store.put(resource, row, ticks)
            self._event(result, "IlmoitusTilamuutos", row_id, row["KustannuspaikkaId"], ticks,
                        {"TilaId": row["TilaId"], "Tila": row["Tila"]})  # fmt: skip
        return result

    def _default_update(self, resource: str, row: Row) -> dict[str, Any]:
        rng = self.factory.rng
        if resource == "ilmoitukset":
            state = _NEXT_STATE.get(int(row["TilaId"]), 3)
            if state == row["TilaId"]:
                return {"Kiireellisyys": rng.choice(("Normaali", "Kiireellinen"))}
            return {"TilaId": state, "Tila": _STATES[state]}
        if resource == "kohteet":
            return {"Lisätiedot": f'Päivitetty {rng.randrange(10_000)} "huolto"'}
        if resource == "osapuolet":
            return {"Puhelin": f"+358 50 {rng.randrange(1000000, 9999999)}"}
        if resource == "kustannuspaikat":
            return {
                "Katuosoite": f"{rng.choice(self.factory.pools.streets)} {rng.randrange(1, 60)}"
            }
        return {"Loppupvm": format_date(datetime.now(UTC).date())}

    # ---- delete ------------------------------------------------------------------------
    def _delete(self, resource: str, row_id: int, ticks: int) -> ChangeResult:
        store = self.store
        result = ChangeResult(resource, "delete", row_id)
        if resource == "kohteet":
            meta = store.meta("kohteet", row_id)
            if meta is not None and meta.metaname == CC_METANAME:
                raise ChangeError("delete a cost centre through resource kustannuspaikat")
            for object_id in self._subtree(row_id):
                cc = store.cc_of_object(object_id)
                self._drop_object(object_id)
                self._event(result, "KohderekisteriTietoPoista", object_id, cc, ticks)
        elif resource == "kustannuspaikat":
            for object_id in [*store.objects_by_cc.get(row_id, ()), row_id]:
                self._drop_object(object_id)
            for notice in list(store.notices_by_cc.get(row_id, ())):
                store.delete("ilmoitukset", notice)
            store.delete("kustannuspaikat", row_id)
            self._event(result, "KohderekisteriTietoPoista", row_id, row_id, ticks)
        elif resource == "osapuolet":
            for link in list(store.links_by_party.get(row_id, ())):
                store.delete("osapuoli_yhteydet", link)
            store.delete("osapuolet", row_id)
            self._event(result, "OsapuoliPoista", row_id, None, ticks)
        else:
            store.delete(resource, row_id)
        return result

    def _subtree(self, root: int) -> list[int]:
        meta = self.store.tables["kohteet"].meta
        cc = meta[root].cc
        members = self.store.objects_by_cc.get(cc, []) if cc is not None else []
        found, frontier = [root], {root}
        while frontier:
            children = [i for i in members if meta[i].parent in frontier]
            found.extend(children)
            frontier = set(children)
        return found

    def _drop_object(self, object_id: int) -> None:
        for link in list(self.store.links_by_kohde.get(object_id, ())):
            self.store.delete("osapuoli_yhteydet", link)
        self.store.delete("kohteet", object_id)
