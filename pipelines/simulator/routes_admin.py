"""The simulator's own admin API under /_sim/ (not part of Tampuuri, never counted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.simulator.changes import ChangeError
from pipelines.simulator.config import RESOURCES, FaultConfig
from pipelines.simulator.contract_variants import contract_admin_route
from pipelines.simulator.generic_spec import GENERIC_BY_NAME
from pipelines.simulator.random_changes import RANDOM_MIX, WITH_GENERIC
from pipelines.tampuuri import json_codec

if TYPE_CHECKING:
    from pipelines.simulator.app import Simulator

JSON = "application/json; charset=utf-8"


def _json(data: Any, status: int = 200) -> Response:
    return Response(json_codec.encode(data), status, media_type=JSON)


def _error(message: str, status: int = 400) -> Response:
    return _json({"error": message}, status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json_codec.decode(raw) if raw.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def admin_routes(sim: Simulator) -> list[Route]:
    """Routes mounted at /_sim (see docs/ARCHITECTURE.md, "Simulator")."""

    async def transactions(request: Request) -> Response:
        account = request.query_params.get("account")
        rows = sim.transactions(account)
        return _json({"total": sum(r["count"] for r in rows), "rows": rows})

    async def reset_transactions(request: Request) -> Response:
        sim.counter.reset()
        return _json({"total": 0, "rows": []})

    async def changes(request: Request) -> Response:
        try:
            body = await _body(request)
            result = sim.apply_change(
                str(body["account"]), str(body["resource"]), str(body["op"]),
                id=body.get("id"), fields=body.get("fields"),
            )  # fmt: skip
        except (KeyError, ValueError, TypeError) as exc:  # ChangeError is a ValueError
            return _error(str(exc) if isinstance(exc, ChangeError) else f"bad change: {exc!r}")
        return _json({"Id": result.id, "notifications": len(result.notifications)})

    async def random_changes(request: Request) -> Response:
        try:
            body = await _body(request)
            mix = WITH_GENERIC if body.get("generic") else RANDOM_MIX
            results = sim.random_changes(
                str(body["account"]), int(body.get("count", 1)), body.get("seed"), mix
            )
        except (KeyError, ValueError, TypeError) as exc:
            return _error(f"bad request: {exc!r}")
        return _json(
            {"changes": [{"resource": r.resource, "op": r.op, "Id": r.id} for r in results]}
        )

    async def state(request: Request) -> Response:
        account, resource = request.path_params["account"], request.path_params["resource"]
        if account not in sim.accounts or resource not in (*RESOURCES, *GENERIC_BY_NAME):
            return _error("unknown account or resource", 404)
        visible = request.query_params.get("all") not in ("1", "true")
        return _json({"Items": sim.items(account, resource, visible_only=visible)})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            try:
                sim.faults.configure(FaultConfig.from_dict(await _body(request)))
            except (ValueError, TypeError) as exc:
                return _error(str(exc))
        return _json(sim.faults.config.as_dict())

    async def drift(request: Request) -> Response:
        """The changes paging drift made since the faults were last set."""
        return _json({"events": list(sim.faults.drift_log)})

    async def stream(request: Request) -> Response:
        if request.method == "PUT":
            try:
                sim.stream_per_s = max(0.0, float((await _body(request)).get("per_s", 0)))
            except (ValueError, TypeError) as exc:
                return _error(str(exc))
        return _json({"per_s": sim.stream_per_s})

    async def listeners(request: Request) -> Response:
        if request.method == "GET":
            return _json({"listeners": sim.webhooks.listeners()})
        try:
            body = await _body(request)
            account = str(body["account"])
            if account not in sim.accounts:
                return _error(f"unknown account {account!r}")
            secret = body.get("secret_header")
            listener = sim.webhooks.add_listener(
                account,
                str(body["url"]),
                body.get("events"),
                (str(secret["name"]), str(secret["value"])) if secret else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            return _error(f"bad listener: {exc!r}")
        return _json(listener.public(), 201)

    async def deliveries(request: Request) -> Response:
        return _json({"deliveries": sim.webhooks.deliveries()})

    async def flush(request: Request) -> Response:
        return _json({"deliveries": await sim.webhooks.deliver_due()})

    return [
        Route("/transactions", transactions, methods=["GET"]),
        Route("/transactions/reset", reset_transactions, methods=["POST"]),
        Route("/changes", changes, methods=["POST"]),
        Route("/changes/random", random_changes, methods=["POST"]),
        Route("/state/{account}/{resource}", state, methods=["GET"]),
        Route("/faults", faults, methods=["GET", "PUT"]),
        Route("/drift", drift, methods=["GET"]),
        Route("/stream", stream, methods=["GET", "PUT"]),
        Route("/webhooks/listeners", listeners, methods=["GET", "POST"]),
        Route("/webhooks/deliveries", deliveries, methods=["GET"]),
        Route("/webhooks/flush", flush, methods=["POST"]),
        contract_admin_route(sim),
    ]
