"""The list and detail routes of the generic resources, built from `generic_spec.GENERIC`.

One list handler and one detail handler serve every entry; paging, `MuokattuAlku`,
the envelope, 403/404 and the contract variants are the built-in routes' own helpers.
"""

from __future__ import annotations

from typing import Any

from pipelines.simulator.api_handlers import ApiError, Call, Handler, _paging
from pipelines.simulator.generic_data import drifts, listed_ids
from pipelines.simulator.generic_spec import GENERIC, GenericResource
from pipelines.simulator.paging import lower_keys, parse_int, parse_json_object, parse_since
from pipelines.simulator.store import Table


def _table(call: Call, spec: GenericResource) -> Table:
    return call.sim.generic(call.label).table(spec)


def _scope_ids(
    call: Call, spec: GenericResource, table: Table, params: dict[str, Any]
) -> list[int]:
    store = call.store
    if spec.fan_out:
        cc = call.path_id
        assert cc is not None
        if not store.is_cost_centre(cc):
            raise ApiError(404, f"Kustannuspaikkaa {cc} ei löydy.")
        if cc in store.forbidden:
            raise ApiError(403, f"Ei oikeutta kohteeseen {cc}.")
        return listed_ids(store, spec, cc)
    kohde = call.sim.contract.scope(params.get("kohdeid")) if "KohdeId" in spec.filters else None
    if kohde in (None, ""):
        return listed_ids(store, spec, None)
    kohde_id = parse_int("KohdeId", kohde)
    if store.cc_of_object(kohde_id) in store.forbidden:
        raise ApiError(403, f"Ei oikeutta kohteeseen {kohde_id}.")
    return store.view(
        ("generic", spec.name, "kohde", kohde_id),
        lambda: [i for i in table.ids if table.meta[i].kohde == kohde_id],
    )


def list_handler(spec: GenericResource) -> Handler:
    def handle(call: Call) -> bytes:
        table = _table(call, spec)
        params = call.params if spec.paging == "query" else lower_keys(parse_json_object(call.body))
        _scope_ids(call, spec, table, params)  # 400/403/404 before any drift
        offset, limit = _paging(call, params)
        if call.fault.drift and offset > 0 and drifts(spec, call.sim.faults.config.drift_resources):
            call.sim.drift(call.label, spec.name, call.path_id, offset)
        ids = _scope_ids(call, spec, table, params)
        if "MuokattuAlku" in spec.filters:
            since = call.sim.contract.since(parse_since(params))
            if since is not None:
                base = ids
                scope = (call.path_id, params.get("kohdeid"))
                ids = call.store.view(
                    ("generic-since", spec.name, scope, since),
                    lambda: [i for i in base if table.meta[i].ticks >= since],
                )
        return call.sim.contract.envelope(offset, limit, ids, table.blobs)

    return handle


def detail_handler(spec: GenericResource) -> Handler:
    def handle(call: Call) -> bytes:
        assert call.path_id is not None
        table = _table(call, spec)
        meta = table.meta.get(call.path_id)
        if meta is None:
            if call.sim.contract.finds_deleted():
                return call.sim.contract.deleted_row(call.path_id)
            raise ApiError(404, f"{spec.name} {call.path_id} ei löydy.")
        if meta.cc in call.store.forbidden:
            raise ApiError(403, f"Ei oikeutta kohteeseen {meta.kohde}.")
        return table.blobs[call.path_id]

    return handle


def _routes() -> tuple[tuple[str, tuple[str, ...], str, Handler], ...]:
    out: list[tuple[str, tuple[str, ...], str, Handler]] = []
    for spec in GENERIC:
        out.append((spec.list_method, spec.list_segments, spec.list_template, list_handler(spec)))
        if spec.detail:
            out.append(("GET", spec.detail_segments, spec.detail_template, detail_handler(spec)))
    return tuple(out)


GENERIC_ROUTES = _routes()
GENERIC_LIST_TEMPLATES = frozenset(spec.list_template for spec in GENERIC)
