"""Paging drift: real changes to the list being scanned, between two of its page calls.

Users edit Tampuuri during a nightly scan. A drift happens as a list page past the first
arrives, before it is served, so it falls between that call and the one before:

- `delete_read`: a row before the page's Offset and on the list's first page (which every
  scan reads before any other, so the row has been read whatever order concurrent pages
  arrive in) is deleted: every later row moves one place earlier, so the row at the page
  boundary slips back past it;
- `insert_after_cursor`: a row is added with a higher id than any: it lands at the list's
  end, after the scan's cursor;
- `delete_and_insert`: both between the same two calls, so `Total` stays where it was.

"Repeated" is `FaultConfig.drift_repeat` (the drift goes on over the next pages) or a
`drift_rate` of 1 bounded by `drift_max`. Every change goes through the `Changer`, as an
admin change would: a deleted row is gone from every list and its detail route answers
404; an inserted one is a real row (with its webhook, where Tampuuri sends one).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from pipelines.simulator.generic_data import listed_ids as generic_listed_ids
from pipelines.simulator.generic_spec import GENERIC_BY_NAME
from pipelines.simulator.paging import MAX_LIMIT
from pipelines.simulator.store import AccountStore

if TYPE_CHECKING:
    from pipelines.simulator.app import Simulator

PATTERN_OPS = {
    "delete_read": ("delete",),
    "insert_after_cursor": ("insert",),
    "delete_and_insert": ("delete", "insert"),
}


def apply_drift(
    sim: Simulator,
    account: str,
    resource: str,
    cc: int | None,
    offset: int,
    pattern: str,
    rng: random.Random,
) -> None:
    """Apply `pattern` to the list `resource` (of cost centre `cc`) as Offset `offset` is asked."""
    store = sim.store(account)
    for op in PATTERN_OPS[pattern]:
        if op == "delete":
            row_id = _read_row(store, resource, cc, offset, rng)
            if row_id is None:
                continue  # nothing read yet that may be deleted alone
            sim.apply_change(account, resource, "delete", id=row_id)
        else:
            row_id = sim.apply_change(
                account, resource, "insert", fields=_insert_fields(store, resource, cc, rng)
            ).id
        sim.faults.record_drift(
            {"resource": resource, "scope": cc, "offset": offset, "pattern": pattern,
             "op": op, "id": row_id}
        )  # fmt: skip


def listed_ids(store: AccountStore, resource: str, cc: int | None) -> list[int]:
    """The ids the scanned list serves, in its order (what Offset counts in)."""
    if resource == "kohteet":
        return store.objects_by_cc.get(cc if cc is not None else -1, [])
    if resource == "ilmoitukset" and cc is not None:
        return store.notices_by_cc.get(cc, [])
    spec = GENERIC_BY_NAME.get(resource)
    if spec is not None:
        return generic_listed_ids(store, spec, cc)
    return store.visible_ids(resource)


def _read_row(
    store: AccountStore, resource: str, cc: int | None, offset: int, rng: random.Random
) -> int | None:
    """A row before `offset` on the first page (so a scan has read it) that can be deleted
    on its own (an object without children)."""
    passed = listed_ids(store, resource, cc)[: min(offset, MAX_LIMIT)]
    if resource == "kohteet":
        meta = store.tables["kohteet"].meta
        parents = {meta[i].parent for i in listed_ids(store, resource, cc)}
        passed = [i for i in passed if i not in parents]
    return rng.choice(passed) if passed else None


def _insert_fields(
    store: AccountStore, resource: str, cc: int | None, rng: random.Random
) -> dict[str, Any]:
    """Fields that put the new row in the scanned list (new ids are the highest)."""
    if resource == "kohteet":
        return {"ParentId": cc}
    if resource == "ilmoitukset":
        readable = [i for i in store.tables["kustannuspaikat"].ids if i not in store.forbidden]
        return {"KustannuspaikkaId": cc if cc is not None else rng.choice(readable)}
    if resource == "osapuoli_yhteydet" and store.forbidden:
        return {"KohdeId": rng.choice(store.visible_ids("kohteet"))}
    spec = GENERIC_BY_NAME.get(resource)
    if spec is not None and spec.fan_out:
        return {"KohdeId": cc}
    if spec is not None and store.forbidden:  # an apartment the scanned list shows
        meta = store.tables["kohteet"].meta
        return {"KohdeId": rng.choice([i for i in store.visible_ids("kohteet")
                                       if meta[i].metaname == "huoneisto"])}  # fmt: skip
    return {}
