"""Handlers of the simulated Tampuuri routes (section 7 of tampuuri-api.md) and the route table.

Handlers are synchronous: they run under the account's lock and return the body bytes, or
raise `ApiError` / `BadRequest` for a `{"Message": ...}` answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.simulator.faults import FaultDecision
from pipelines.simulator.paging import (
    BadRequest,
    lower_keys,
    parse_int,
    parse_json_object,
    parse_paging,
    parse_since,
)
from pipelines.simulator.store import AccountStore
from pipelines.tampuuri import json_codec

if TYPE_CHECKING:
    from pipelines.simulator.app import Simulator

NOTICE_CREATE_FIELDS = (
    "KustannuspaikkaId", "TilaId", "HuoneId", "Otsikko", "TyotehtavanKuvaus", "Kiireellisyys",
    "Vikaluokka", "Kustannusarvio", "SuoritusaikaAikaisintaan", "SuoritusaikaViimeistaan",
    "TyonsuorittajaId", "IlmoittajaId",
)  # fmt: skip


@dataclass
class Call:
    """One authenticated API request on its way to a handler."""

    sim: Simulator
    body: bytes
    label: str
    store: AccountStore
    params: dict[str, str]
    path_id: int | None
    fault: FaultDecision


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Call], bytes]


# ---- handlers -----------------------------------------------------------------------------
def _paging(call: Call, params: Mapping[str, Any]) -> tuple[int, int]:
    offset, limit = parse_paging(params)
    raw = params.get("limit")
    asked = limit if raw in (None, "") else parse_int("Limit", raw)
    return offset, call.sim.contract.limit(asked, limit)


def list_cost_centres(call: Call) -> bytes:
    offset, limit = _paging(call, call.params)
    since = call.sim.contract.since(parse_since(call.params))
    store = call.store
    table = store.tables["kustannuspaikat"]
    if call.fault.drift and offset > 0:
        call.sim.drift(call.label, "kustannuspaikat", None, offset)
    ids = table.ids
    if since is not None:
        ids = store.view(
            ("cc-since", since), lambda: [i for i in table.ids if table.meta[i].ticks >= since]
        )
    return call.sim.contract.envelope(offset, limit, ids, table.blobs)


def _readable_object(call: Call, object_id: int) -> int:
    """The object's cost centre; 404 unknown, 403 without object rights."""
    cc = call.store.cc_of_object(object_id)
    if cc is None:
        raise ApiError(404, f"Kohdetta {object_id} ei löydy.")
    if cc in call.store.forbidden:
        raise ApiError(403, f"Ei oikeutta kohteeseen {object_id}.")
    return cc


def get_object(call: Call) -> bytes:
    assert call.path_id is not None
    if call.store.cc_of_object(call.path_id) is None and call.sim.contract.finds_deleted():
        return call.sim.contract.deleted_row(call.path_id)
    _readable_object(call, call.path_id)
    blob = call.store.blob("kohteet", call.path_id)
    assert blob is not None
    return blob


def list_objects(call: Call) -> bytes:
    assert call.path_id is not None
    store, cc = call.store, call.path_id
    if not store.is_cost_centre(cc):
        raise ApiError(404, f"Kustannuspaikkaa {cc} ei löydy.")
    _readable_object(call, cc)
    body = lower_keys(parse_json_object(call.body))
    offset, limit = _paging(call, body)
    metanames = body.get("metanimet")
    if metanames is not None and not (
        isinstance(metanames, list) and all(isinstance(m, str) for m in metanames)
    ):
        raise BadRequest(
            "The request is invalid.", {"Metanimet": ["A list of strings is expected."]}
        )
    if call.fault.drift and offset > 0:
        call.sim.drift(call.label, "kohteet", cc, offset)
    table = store.tables["kohteet"]
    ids = store.objects_by_cc.get(cc, [])
    if metanames:
        wanted = frozenset(m.lower() for m in metanames)
        ids = store.view(
            ("objects", cc, wanted),
            lambda: [
                i
                for i in store.objects_by_cc.get(cc, [])
                if (table.meta[i].metaname or "") in wanted
            ],
        )
    return call.sim.contract.envelope(offset, limit, ids, table.blobs)


def list_links(call: Call) -> bytes:
    offset, limit = _paging(call, call.params)
    store = call.store
    kohde = call.sim.contract.scope(call.params.get("kohdeid"))
    if call.fault.drift and offset > 0:
        call.sim.drift(call.label, "osapuoli_yhteydet", None, offset)
    table = store.tables["osapuoli_yhteydet"]
    if kohde not in (None, ""):
        kohde_id = parse_int("KohdeId", kohde)
        if store.cc_of_object(kohde_id) in store.forbidden:
            raise ApiError(403, f"Ei oikeutta kohteeseen {kohde_id}.")
        ids = store.links_by_kohde.get(kohde_id, [])
    else:
        ids = store.visible_ids("osapuoli_yhteydet")
    return call.sim.contract.envelope(offset, limit, ids, table.blobs)


def fetch_parties(call: Call) -> bytes:
    body = lower_keys(parse_json_object(call.body))
    wanted = body.get("osapuoliidt")
    if not isinstance(wanted, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in wanted
    ):
        raise BadRequest(
            "The request is invalid.", {"OsapuoliIdt": ["A list of integer ids is required."]}
        )
    most = call.sim.contract.batch_limit()
    if len(wanted) > most:
        raise BadRequest(f"At most {most} ids in one call.", {"OsapuoliIdt": ["Too many ids."]})
    blobs = call.store.tables["osapuolet"].blobs
    found = [blobs[i] for i in sorted(set(wanted)) if i in blobs]
    return b"[" + b",".join(found) + b"]"


def list_notices(call: Call) -> bytes:
    offset, limit = _paging(call, call.params)
    since = call.sim.contract.since(parse_since(call.params))
    store = call.store
    cc_param = call.sim.contract.scope(call.params.get("kustannuspaikkaid"))
    cc = None if cc_param in (None, "") else parse_int("KustannuspaikkaId", cc_param)
    if cc is not None and cc in store.forbidden:
        raise ApiError(403, f"Ei oikeutta kustannuspaikkaan {cc}.")
    if call.fault.drift and offset > 0:
        call.sim.drift(call.label, "ilmoitukset", cc, offset)
    table = store.tables["ilmoitukset"]
    base = store.notices_by_cc.get(cc, []) if cc is not None else store.visible_ids("ilmoitukset")
    ids = base
    if since is not None:
        ids = store.view(
            ("notices-since", cc, since), lambda: [i for i in base if table.meta[i].ticks >= since]
        )
    return call.sim.contract.envelope(offset, limit, ids, table.blobs)


def get_notice(call: Call) -> bytes:
    assert call.path_id is not None
    meta = call.store.meta("ilmoitukset", call.path_id)
    if meta is None:
        if call.sim.contract.finds_deleted():
            return call.sim.contract.deleted_row(call.path_id)
        raise ApiError(404, f"Ilmoitusta {call.path_id} ei löydy.")
    if meta.cc in call.store.forbidden:
        raise ApiError(403, f"Ei oikeutta ilmoitukseen {call.path_id}.")
    blob = call.store.blob("ilmoitukset", call.path_id)
    assert blob is not None
    return blob


def create_notice(call: Call) -> bytes:
    raw = parse_json_object(call.body)
    body = lower_keys(raw)
    cc = body.get("kustannuspaikkaid")
    if cc is None:
        raise BadRequest(
            "The request is invalid.",
            {"malli.KustannuspaikkaId": ["The KustannuspaikkaId field is required."]},
        )
    cc_id = parse_int("KustannuspaikkaId", cc)
    if not call.store.is_cost_centre(cc_id):
        raise BadRequest(
            "The request is invalid.",
            {"malli.KustannuspaikkaId": [f"Unknown cost centre {cc_id}."]},
        )
    if cc_id in call.store.forbidden:
        raise ApiError(403, f"Ei oikeutta kustannuspaikkaan {cc_id}.")
    fields = {name: body[name.lower()] for name in NOTICE_CREATE_FIELDS if name.lower() in body}
    result = call.sim.apply_change(call.label, "ilmoitukset", "insert", fields=fields)
    return json_codec.encode({"Id": result.id})


# (method, segments, template, handler); "#" is an integer path parameter.
ROUTES: tuple[tuple[str, tuple[str, ...], str, Handler], ...] = (
    ("GET", ("kustannuspaikat", "selaa"), "kustannuspaikat/selaa", list_cost_centres),
    ("GET", ("kohteet", "#"), "kohteet/{kohde_id}", get_object),
    ("POST", ("kohteet", "#", "selaa"), "kohteet/{kohde_id}/selaa", list_objects),
    ("GET", ("osapuolet", "yhteydet", "selaa"), "osapuolet/yhteydet/selaa", list_links),
    ("POST", ("osapuolitiedot", "osapuolet", "hae"), "osapuolitiedot/osapuolet/hae", fetch_parties),
    ("GET", ("ilmoitukset", "selaa"), "ilmoitukset/selaa", list_notices),
    ("POST", ("ilmoitukset", "lisaa"), "ilmoitukset/lisaa", create_notice),
    ("GET", ("ilmoitukset", "#"), "ilmoitukset/{id}", get_notice),
)
LIST_TEMPLATES = frozenset(
    {
        "kustannuspaikat/selaa",
        "kohteet/{kohde_id}/selaa",
        "osapuolet/yhteydet/selaa",
        "ilmoitukset/selaa",
    }
)
