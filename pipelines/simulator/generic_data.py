"""Data and changes of the generic resources (`generic_spec.GENERIC`), one account.

The rows are generated lazily, on a resource's first use, from a basis taken when the
account was generated (its apartments with one linked party each, its cost centres), with
a random stream of the resource's own: the rows of the built-in resources, their ids and
`random_changes` stay exactly what a seed made before these resources existed. A scope
deleted before the first use gets no rows; the ids of the others do not move.
"""

from __future__ import annotations

import random
from typing import Any

from pipelines.simulator.changes import OPS, ChangeError, ChangeResult, notification
from pipelines.simulator.dates import format_ticks
from pipelines.simulator.decimals import DecimalShapes
from pipelines.simulator.generator import ACCOUNT_ID_SPAN, GENERATED_FROM, GENERATED_UNTIL
from pipelines.simulator.generic_rows import Row, Seed
from pipelines.simulator.generic_spec import GENERIC_BY_NAME, GENERIC_ID_BASE, GenericResource
from pipelines.simulator.store import AccountStore, Table

APARTMENT = "huoneisto"


class GenericData:
    """The generic resources of one account: lazy generation and changes."""

    def __init__(self, store: AccountStore, seed: int, account_name: str) -> None:
        self.store = store
        self.account_name = account_name
        self._seed = f"{seed}:{store.label}:{store.index}"
        meta = store.tables["kohteet"].meta
        links = store.tables["osapuoli_yhteydet"].meta
        self.apartments = [i for i in store.tables["kohteet"].ids if meta[i].metaname == APARTMENT]
        self.tenants = {
            i: links[found[0]].party
            for i in self.apartments
            if (found := store.links_by_kohde.get(i))
        }
        self.cost_centres = list(store.tables["kustannuspaikat"].ids)
        self._rngs: dict[str, random.Random] = {}
        self._shapes: dict[str, DecimalShapes] = {}
        self._next: dict[str, int] = {}

    def table(self, spec: GenericResource) -> Table:
        """The resource's table, generated on first use."""
        store = self.store
        with store.lock:
            found = store.tables.get(spec.name)
            if found is None:
                found = store.tables[spec.name] = Table()
                self._generate(spec)
            return found

    def _generate(self, spec: GenericResource) -> None:
        rng = self._rngs[spec.name] = random.Random(f"{self._seed}:{spec.name}")
        self._shapes[spec.name] = DecimalShapes(rng.getstate())
        self._next[spec.name] = GENERIC_ID_BASE + self.store.index * ACCOUNT_ID_SPAN + spec.id_base
        scopes = self.cost_centres if spec.per == "cost_centre" else self.apartments
        for scope in scopes:
            for _ in range(spec.make.count(rng)):
                ticks = rng.randrange(GENERATED_FROM, GENERATED_UNTIL)
                row = spec.make.row(self._seed_row(spec, scope, ticks))
                if self.store.blob("kohteet", scope) is not None:  # deleted before first use
                    self.store.put(spec.name, row, ticks)

    def _seed_row(self, spec: GenericResource, scope: int, ticks: int) -> Seed:
        self._next[spec.name] += 1
        return Seed(self._rngs[spec.name], self._next[spec.name], scope,
                    self.tenants.get(scope), ticks, self._shapes[spec.name])  # fmt: skip

    # ---- changes -----------------------------------------------------------------------
    def apply(
        self, spec: GenericResource, op: str, ticks: int, row_id: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> ChangeResult:  # fmt: skip
        """Insert, update or delete one row at `ticks`; the result carries its webhooks."""
        if op not in OPS:
            raise ChangeError(f"unknown op {op!r}; use insert, update or delete")
        fields = {k: v for k, v in (fields or {}).items() if k != "Id"}
        with self.store.lock:
            table = self.table(spec)
            if op == "insert":
                return self._insert(spec, ticks, fields)
            if row_id is None or int(row_id) not in table.blobs:
                raise ChangeError(f"{spec.name} {row_id} does not exist")
            row_id = int(row_id)
            if op == "delete":
                self.store.delete(spec.name, row_id)
                return ChangeResult(spec.name, "delete", row_id)
            row = self.store.get(spec.name, row_id)
            assert row is not None
            changed = fields or spec.make.update(self._rngs[spec.name], row, ticks)
            changed = {**changed, **spec.make.implied(changed)}
            merged = {**row, **changed}
            result = self._put(spec, "update", merged, ticks)
            wanted = all(changed.get(name) is not None for name in spec.update_needs)
            if spec.on_update and wanted:
                self._event(result, spec.on_update, merged, ticks)
            return result

    def _insert(self, spec: GenericResource, ticks: int, fields: dict[str, Any]) -> ChangeResult:
        store = self.store
        kohde = fields.get("KohdeId")
        if kohde is None:
            pool = self.cost_centres if spec.per == "cost_centre" else self.apartments
            alive = [i for i in pool if store.blob("kohteet", i) is not None]
            if not alive:
                raise ChangeError(f"the account has no scope for {spec.name}")
            kohde = self._rngs[spec.name].choice(alive)
        kohde = int(kohde)
        if spec.per == "cost_centre" and not store.is_cost_centre(kohde):
            raise ChangeError(f"cost centre {kohde} does not exist")
        if store.blob("kohteet", kohde) is None:
            raise ChangeError(f"object {kohde} does not exist")
        row = spec.make.row(self._seed_row(spec, kohde, ticks))
        if row.get("OsapuoliId") is None and "OsapuoliId" in row:
            links = store.links_by_kohde.get(kohde)
            party = store.tables["osapuoli_yhteydet"].meta[links[0]].party if links else None
            row["OsapuoliId"] = party
        merged = {**row, **fields, "KohdeId": kohde}
        result = self._put(spec, "insert", merged, ticks)
        if spec.on_insert:
            self._event(result, spec.on_insert, merged, ticks)
        return result

    def _put(self, spec: GenericResource, op: str, row: Row, ticks: int) -> ChangeResult:
        row["Muokattu"] = format_ticks(ticks)
        self.store.put(spec.name, row, ticks)
        return ChangeResult(spec.name, op, int(row["Id"]))

    def _event(self, result: ChangeResult, action: str, row: Row, ticks: int) -> None:
        result.notifications.append(
            notification(action, self.account_name, result.id, int(row["KohdeId"]), ticks)
        )


def spec_of(resource: str) -> GenericResource | None:
    return GENERIC_BY_NAME.get(resource)


def listed_ids(store: AccountStore, spec: GenericResource, cc: int | None) -> list[int]:
    """The ids a list of `spec` serves before filters, in its order: the rows of cost
    centre `cc` for a fan-out, else every row the account may read."""
    if not spec.fan_out:
        return store.visible_ids(spec.name)
    table = store.tables[spec.name]
    return store.view(
        ("generic", spec.name, "cc", cc), lambda: [i for i in table.ids if table.meta[i].cc == cc]
    )


def drifts(spec: GenericResource, drift_resources: tuple[str, ...]) -> bool:
    """A generic list drifts only when `FaultConfig.drift_resources` names it."""
    return spec.name in drift_resources
