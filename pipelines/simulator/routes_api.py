"""The Tampuuri API routes under /v10/api/ (section 7 of tampuuri-api.md).

One catch-all endpoint matches paths case-insensitively against the route templates,
then runs: route match (404/405) -> authentication (401) -> role right (403) -> faults ->
the handler. Whatever the outcome, the request is counted once in the transaction report.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from pipelines.simulator.api_handlers import (
    LIST_TEMPLATES,
    ROUTES,
    ApiError,
    Call,
    Handler,
)
from pipelines.simulator.auth import UNAUTHORIZED_MESSAGE, required_right
from pipelines.simulator.config import UNKNOWN_ROUTE
from pipelines.simulator.generic_handlers import GENERIC_LIST_TEMPLATES, GENERIC_ROUTES
from pipelines.simulator.paging import BadRequest, lower_keys
from pipelines.tampuuri import json_codec

if TYPE_CHECKING:
    from pipelines.simulator.app import Simulator

API_PREFIX = "/v10/api/"
JSON = "application/json; charset=utf-8"


def _message(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(json_codec.encode({"Message": message}), status, headers, media_type=JSON)


def match_route(method: str, path: str) -> tuple[str, Handler | None, int | None]:
    """`(template, handler, path id)`; handler None with a template means 405."""
    segments = tuple(s for s in path.lower().split("/") if s)
    method_mismatch = False
    for route_method, pattern, template, handler in ROUTES + GENERIC_ROUTES:
        if len(pattern) != len(segments):
            continue
        path_id = None
        for want, got in zip(pattern, segments, strict=True):
            if want == "#":
                if not got.isdigit():
                    break
                path_id = int(got)
            elif want != got:
                break
        else:
            if route_method == method:
                return template, handler, path_id
            method_mismatch = True
    return UNKNOWN_ROUTE, None, None if not method_mismatch else -1


async def api_endpoint(sim: Simulator, request: Request) -> Response:
    """Serve one /v10/api/ request and count it in the transaction report."""
    path = request.url.path
    rest = path[len(API_PREFIX) :] if path.lower().startswith(API_PREFIX) else None
    if rest is None:
        return _message(404, "No HTTP resource was found that matches the request URI.")
    method = request.method.upper()
    template, handler, path_id = match_route(method, rest)
    sent_account = request.headers.get("x-tilinimi")
    account = sim.auth.label_for(sent_account) or sent_account or "(none)"
    response: Response
    if handler is None:
        if path_id == -1:
            response = _message(
                405, f"The requested resource does not support http method '{method}'."
            )
        else:
            response = _message(404, "No HTTP resource was found that matches the request URI.")
        sim.counter.record(account, method, template, response.status_code)
        return response
    label = sim.auth.authenticate(request.headers)
    if label is None:
        sim.counter.record(account, method, template, 401)
        return _message(401, UNAUTHORIZED_MESSAGE)
    # 499 (nginx's "client closed request") stays only when the request task is cancelled
    # mid-way, e.g. an in-process client timing out during a hang. Under uvicorn a
    # disconnect does not cancel the app, so the status recorded is the one finally sent.
    status = 499
    try:
        response = await _serve(sim, request, label, template, handler, path_id)
        status = response.status_code
        return response
    finally:
        sim.counter.record(label, method, template, status)


async def _serve(
    sim: Simulator,
    request: Request,
    label: str,
    template: str,
    handler: Handler,
    path_id: int | None,
) -> Response:
    if required_right(request.method.upper(), template) not in sim.role(label).get(template, ()):
        return _message(403, "Roolilla ei ole oikeutta tähän toimintoon.")
    fault = sim.faults.decide(
        is_list_page=template in LIST_TEMPLATES or template in GENERIC_LIST_TEMPLATES
    )
    if fault.hang_s:
        await asyncio.sleep(fault.hang_s)
    if fault.latency_s:
        await asyncio.sleep(fault.latency_s)
    if fault.error_status is not None:
        return _message(fault.error_status, "An error has occurred.")
    if fault.rate_limited:
        return _message(
            429, "Liian monta pyyntöä.", {"Retry-After": sim.faults.retry_after_header()}
        )
    params: dict[str, Any] = lower_keys(dict(request.query_params))
    try:
        raw = await request.body()
    except ClientDisconnect:
        # The client gave up (a killed sync, a client timeout): nothing to answer.
        return Response(b"", 499)
    store = sim.store(label)
    call = Call(sim, raw, label, store, params, path_id, fault)
    try:
        # Handlers are synchronous and hold the account's lock: the admin API and test
        # threads may change the same data while a page is being built.
        with store.lock:
            body = handler(call)
    except BadRequest as error:
        return Response(error.body(), 400, media_type=JSON)
    except ApiError as error:
        return _message(error.status, error.message)
    if fault.truncate:
        body = body[: len(body) // 2]  # status 200 with half a JSON document
    return Response(body, 200, media_type=JSON)
