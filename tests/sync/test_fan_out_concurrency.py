"""A fan-out's batches share the client's calls in flight, max(page_concurrency,
scope_concurrency), the earliest batch first (pipelines/sync/scope_turns.py).

Counted at the simulator: the objects' listings (one page per cost centre here) run as
many at once as the client allows, whichever of the two settings is the larger, and the
calls are exactly one per cost centre plus the cost centres' own pages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest

from pipelines.settings import load_sync_settings
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.config import FaultConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.tampuuri.paging import expected_calls
from pipelines.warehouse.engine import make_engine
from tests.sync.helpers import account_for, warehouse_rows

ACCOUNT = "demo-a"
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


class ListingsInFlight:
    """Wraps the simulator's ASGI app: the most object listings it served at once."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self.now = 0
        self.most = 0
        self.listings = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        listing = scope["type"] == "http" and scope["path"].startswith("/v10/api/kohteet/")
        if not listing:
            await self._app(scope, receive, send)
            return
        self.listings += 1
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await self._app(scope, receive, send)
        finally:
            self.now -= 1


@pytest.mark.parametrize(
    ("page_concurrency", "scope_concurrency", "per_batch", "at_once"),
    [
        (1, 3, 1, 3),  # three one-scope batches at once: the scope side sets the cap
        (3, 1, 3, 3),  # one batch at a time, three of its scopes at once
        (2, 2, 1, 2),
    ],
)
def test_fan_out_listings_use_the_clients_cap(
    warehouse_url: str, page_concurrency: int, scope_concurrency: int, per_batch: int, at_once: int
) -> None:
    sim = Simulator(
        SimulatorConfig(
            seed=5, scale=900, accounts=(ACCOUNT,), faults=FaultConfig(latency_ms=30, seed=5)
        )
    )
    cost_centres = sim.items(ACCOUNT, "kustannuspaikat")
    assert len(cost_centres) >= 4  # enough one-page scopes for several batches
    counter = ListingsInFlight(sim.app)
    settings = dataclasses.replace(
        load_sync_settings(),
        page_concurrency=page_concurrency,
        scope_concurrency=scope_concurrency,
        scopes_per_transaction=per_batch,
    )
    account, environ = account_for(sim, ACCOUNT)
    engine = make_engine(warehouse_url)
    try:
        report = run_sync(
            engine,
            SyncRequest(account, resources=("kustannuspaikat", "kohteet"), full=True),
            settings=settings,
            transport=httpx.ASGITransport(app=counter),
            environ=environ,
        )
        assert report.ok, [r.error for r in report.resources]
        assert counter.listings == len(cost_centres)
        assert report.calls == expected_calls(len(cost_centres)) + len(cost_centres)
        assert counter.most == at_once
        for table in ("kustannuspaikat", "kohteet"):
            stored = warehouse_rows(engine, ACCOUNT, table)
            assert sorted(stored) == sorted(item["Id"] for item in sim.items(ACCOUNT, table))
    finally:
        engine.dispose()
