"""Contract variants: a simulator that contradicts one [ASSUMED] fact of the API contract.

Section 7 of tampuuri-api.md fills the gaps of the documented API with assumptions
(ascending ids, the Limit clamp, what `MuokattuAlku` means, ...). `tampuuri-sync doctor`
checks them against a live account; these variants let its tests meet an API that breaks
each one in turn. The default, "standard", is the contract as assumed. A variant is chosen
by `SimulatorConfig.contract` or at run time with `PUT /_sim/contract {"variant": name}`.

The handlers (api_handlers.py) ask the `ContractSwitch` at each point where an assumption
shapes an answer; with "standard" every hook returns its input unchanged.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.simulator.paging import BadRequest, envelope
from pipelines.tampuuri import json_codec

if TYPE_CHECKING:
    from pipelines.simulator.app import Simulator

SMALL_LIMIT = 100  # the clamp of "limit_clamp_100"
SMALL_BATCH = 100  # the id limit of "batch_limit_100"
CONTRACT_BATCH_IDS = 250
CONTRACT_LIMIT = 250
_TOTAL = re.compile(rb'"Total":(\d+)')
VARIANTS: Mapping[str, str] = {
    "standard": "the contract as tampuuri-api.md section 7 assumes it",
    "descending_ids": "list routes return rows in descending Id order",
    "limit_clamp_100": f"a Limit above {SMALL_LIMIT} is clamped to {SMALL_LIMIT}",
    "limit_rejected": f"a Limit above {CONTRACT_LIMIT} answers 400 instead of being clamped",
    "since_ignored": "list routes ignore the MuokattuAlku (changed since) filter",
    "since_exclusive": "MuokattuAlku=t returns the rows changed after t, not those at t",
    "total_unstable": "Total is off by a few rows, differently on each call",
    "deleted_found": "detail routes answer 200 for ids that no longer exist",
    "batch_limit_100": f"the batch route takes at most {SMALL_BATCH} ids a call",
    "scope_ignored": "list routes ignore their scope filters (KohdeId, KustannuspaikkaId)",
}


class ContractSwitch:
    """The variant in force, asked by the handlers at each [ASSUMED] point."""

    def __init__(self, variant: str = "standard") -> None:
        self._lock = threading.Lock()
        self._calls = itertools.count()
        self.variant = "standard"
        self.choose(variant)

    def choose(self, variant: str) -> None:
        """Switch to `variant`. Raises ValueError naming the known variants."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown contract variant {variant!r}; known: {', '.join(VARIANTS)}")
        with self._lock:
            self.variant = variant

    def limit(self, asked: int, clamped: int) -> int:
        """The page size served for a Limit `asked` (already `clamped` to 250).

        Raises:
            BadRequest: "limit_rejected" and more than 250 asked.
        """
        if self.variant == "limit_rejected" and asked > CONTRACT_LIMIT:
            raise BadRequest(f"Limit must be between 0 and {CONTRACT_LIMIT}.")
        return min(clamped, SMALL_LIMIT) if self.variant == "limit_clamp_100" else clamped

    def since(self, since: int | None) -> int | None:
        """The changed-since filter actually applied (in 100 ns ticks)."""
        if since is None or self.variant == "since_ignored":
            return None
        return since + 1 if self.variant == "since_exclusive" else since

    def scope(self, value: str | None) -> str | None:
        """The scope filter value actually applied."""
        return None if self.variant == "scope_ignored" else value

    def batch_limit(self) -> int:
        return SMALL_BATCH if self.variant == "batch_limit_100" else CONTRACT_BATCH_IDS

    def finds_deleted(self) -> bool:
        return self.variant == "deleted_found"

    def envelope(
        self, offset: int, limit: int, ids: Sequence[int], blobs: Mapping[int, bytes]
    ) -> bytes:
        """`{"Offset","Limit","Total","Items"}` as the variant serves it."""
        if self.variant == "descending_ids":
            ids = ids[::-1]
        body = envelope(offset, limit, ids, blobs)
        if self.variant == "total_unstable":
            shift = 1 + next(self._calls) % 3  # consecutive calls never agree
            body = _TOTAL.sub(lambda m: b'"Total":%d' % (int(m[1]) + shift), body, count=1)
        return body

    def deleted_row(self, row_id: int) -> bytes:
        """What "deleted_found" answers for a gone id: a bare row marked deleted."""
        return json_codec.encode({"Id": row_id, "Poistettu": True})


def contract_admin_route(sim: Simulator) -> Route:
    """`GET|PUT /_sim/contract`: the variant in force, and the known ones."""

    async def contract(request: Request) -> Response:
        if request.method == "PUT":
            raw = await request.body()
            try:
                body = json_codec.decode(raw) if raw.strip() else {}
                sim.contract.choose(str(body["variant"]))
            except (KeyError, TypeError, ValueError, json_codec.DecodeError) as exc:
                message = str(exc) if isinstance(exc, ValueError) else f"bad body: {exc!r}"
                answer = {"error": message, "known": dict(VARIANTS)}
                return Response(json_codec.encode(answer), 400, media_type="application/json")
        answer = {"variant": sim.contract.variant, "known": dict(VARIANTS)}
        return Response(json_codec.encode(answer), media_type="application/json")

    return Route("/contract", contract, methods=["GET", "PUT"])
