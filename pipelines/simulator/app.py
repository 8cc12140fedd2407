"""The Simulator: accounts with generated data, the ASGI app, changes, faults, webhooks."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from pipelines.simulator.auth import Authenticator
from pipelines.simulator.changes import Changer, ChangeResult
from pipelines.simulator.config import (
    RESOURCES,
    AccountCredentials,
    SimulatorConfig,
    default_credentials,
    default_role,
)
from pipelines.simulator.contract_variants import ContractSwitch
from pipelines.simulator.dates import ticks_from_datetime
from pipelines.simulator.drift import apply_drift
from pipelines.simulator.faults import FaultInjector
from pipelines.simulator.generator import Factory, generate_cost_centre, plan_cost_centres
from pipelines.simulator.generic_data import GenericData
from pipelines.simulator.generic_spec import GENERIC_BY_NAME
from pipelines.simulator.pools import build_pools
from pipelines.simulator.random_changes import RANDOM_MIX, Mix, random_change
from pipelines.simulator.routes_admin import admin_routes
from pipelines.simulator.routes_api import api_endpoint
from pipelines.simulator.store import AccountStore
from pipelines.simulator.transactions import TransactionCounter
from pipelines.simulator.webhook_sender import WebhookSender

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Simulator:
    """A faithful local Tampuuri: see pipelines/simulator/README.md.

    Args:
        config: accounts, scale, seed, faults and timings.
        clock: returns "now" (aware datetime); changes stamp `Muokattu` with it and the
            webhook backoff runs on it, so tests can move time.
        webhook_transport: httpx transport for webhook deliveries (e.g. an
            `httpx.ASGITransport` around an in-process receiver).
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Clock | None = None,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.clock = clock or _utc_now
        seed = self.config.seed
        given = dict(self.config.credentials or {})
        self._credentials = {
            label: given.get(label) or default_credentials(seed, label)
            for label in self.config.accounts
        }
        self.auth = Authenticator(self._credentials)
        self._roles = {
            label: {
                k: frozenset(v)
                for k, v in (self.config.roles or {}).get(label, default_role()).items()
            }
            for label in self.config.accounts
        }
        pools = build_pools(seed)
        self._stores: dict[str, AccountStore] = {}
        self._changers: dict[str, Changer] = {}
        self._generic: dict[str, GenericData] = {}
        for index, label in enumerate(self.config.accounts):
            rng = random.Random(f"{seed}:{label}:{index}")
            store = AccountStore(label, index)
            factory = Factory(pools, rng, index)
            for apartments in plan_cost_centres(self.config.scale, rng):
                generate_cost_centre(factory, apartments, store.put)
            store.forbidden = self._pick_forbidden(
                store, random.Random(f"{seed}:{label}:forbidden")
            )
            self._stores[label] = store
            self._changers[label] = Changer(store, factory, self._credentials[label].account_name)
            self._generic[label] = GenericData(store, seed, self._credentials[label].account_name)
        self._drift_rng = random.Random(f"{seed}:drift")
        self.counter = TransactionCounter()
        self.faults = FaultInjector(self.config.faults)
        self.contract = ContractSwitch(self.config.contract)
        self.webhooks = WebhookSender(
            self.now_ticks,
            retry_delays_s=self.config.webhook_retry_delays_s,
            timeout_s=self.config.webhook_timeout_s,
            transport=webhook_transport,
        )
        self.stream_per_s = self.config.change_stream_per_s
        self._stream_rng = random.Random(f"{seed}:stream")
        self.app = Starlette(
            routes=[
                Mount("/_sim", routes=admin_routes(self)),
                Route("/{path:path}", self._api, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            ],
            lifespan=self._lifespan,
        )

    def _pick_forbidden(self, store: AccountStore, rng: random.Random) -> set[int]:
        share = self.config.forbidden_share
        ids = store.tables["kustannuspaikat"].ids
        if share <= 0 or not ids:
            return set()
        count = min(len(ids) - 1, max(1, round(share * len(ids))))
        return set(rng.sample(ids, count))

    async def _api(self, request: Request) -> Response:
        return await api_endpoint(self, request)

    # ---- the Python API tests use ------------------------------------------------------
    @property
    def accounts(self) -> tuple[str, ...]:
        return self.config.accounts

    def now_ticks(self) -> int:
        return ticks_from_datetime(self.clock())

    def credentials(self, account: str) -> AccountCredentials:
        """The credentials a client must send for `account`."""
        return self._credentials[account]

    def store(self, account: str) -> AccountStore:
        try:
            return self._stores[account]
        except KeyError:
            raise KeyError(f"unknown simulator account {account!r}") from None

    def generic(self, account: str) -> GenericData:
        """The account's generic resources (`generic_spec.py`), generated on first use."""
        self.store(account)
        return self._generic[account]

    def role(self, account: str) -> Mapping[str, frozenset[str]]:
        return self._roles[account]

    def set_role(self, account: str, rights: Mapping[str, frozenset[str] | set[str]]) -> None:
        """Replace the role of `account`: route template -> rights (Hae/Lisää/Poista/Päivitä)."""
        self.store(account)
        self._roles[account] = {k: frozenset(v) for k, v in rights.items()}

    def forbidden_cost_centres(self, account: str) -> list[int]:
        return sorted(self.store(account).forbidden)

    def items(
        self, account: str, resource: str, *, visible_only: bool = True
    ) -> list[dict[str, Any]]:
        """Current rows of `resource`, ascending Id.

        With `visible_only` (the default) only what the account may read through the list
        routes: what a complete sync should hold. Parties count as visible when a visible
        link names them; `kohteet` never includes the cost centres' own records.
        """
        if resource not in RESOURCES and resource not in GENERIC_BY_NAME:
            names = ", ".join([*RESOURCES, *GENERIC_BY_NAME])
            raise KeyError(f"unknown resource {resource!r}; use one of {names}")
        store = self.store(account)
        with store.lock:
            if resource in GENERIC_BY_NAME:
                self.generic(account).table(GENERIC_BY_NAME[resource])
            if visible_only:
                ids = list(store.visible_ids(resource))
            elif resource == "kohteet":
                ids = [i for i in store.tables[resource].ids if not store.is_cost_centre(i)]
            else:
                ids = list(store.tables[resource].ids)
            return store.rows(resource, ids)

    def transactions(self, account: str | None = None) -> list[dict[str, Any]]:
        """The transaction report rows (as `GET /_sim/transactions`)."""
        return self.counter.rows(account)

    def apply_change(
        self, account: str, resource: str, op: str, *, id: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> ChangeResult:  # fmt: skip
        """Insert, update or delete one row now; queues its webhook notifications."""
        spec = GENERIC_BY_NAME.get(resource)
        if spec is not None:
            result = self.generic(account).apply(spec, op, self.now_ticks(), id, fields)
        else:
            result = self._changers[account].apply(resource, op, self.now_ticks(), id, fields)
        self.webhooks.enqueue(account, result.notifications)
        return result

    def random_changes(
        self, account: str, count: int, seed: int | None = None, mix: Mix = RANDOM_MIX
    ) -> list[ChangeResult]:
        """`count` realistic random changes; the same seed gives the same changes.

        `mix`: (weight, resource, op) to draw from; default the realistic `RANDOM_MIX`.
        """
        changer = self._changers[account]
        rng = random.Random(seed) if seed is not None else self._stream_rng
        saved = changer.factory.rng
        if seed is not None:  # content too must follow the seed, not the running stream
            changer.factory.rng = random.Random(f"{seed}:content")
        results: list[ChangeResult] = []
        try:
            attempts = 0
            while len(results) < count and attempts < count * 20:
                attempts += 1
                with changer.store.lock:  # the stream and the admin API may race
                    result = random_change(
                        changer, rng, self.now_ticks(), mix, self._generic[account]
                    )
                if result is not None:
                    self.webhooks.enqueue(account, result.notifications)
                    results.append(result)
        finally:
            changer.factory.rng = saved
        return results

    def drift(self, account: str, resource: str, cc: int | None, offset: int) -> None:
        """Paging drift as Offset `offset` of a list is asked (`drift.py`), if one is due."""
        pattern = self.faults.take_drift(resource)
        if pattern is not None:
            apply_drift(self, account, resource, cc, offset, pattern, self._drift_rng)

    # ---- background work of a running server -------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(self._webhook_loop()),
            asyncio.create_task(self._stream_loop()),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _webhook_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.webhook_interval_s)
            with contextlib.suppress(Exception):  # a bad listener must not stop the bus
                await self.webhooks.deliver_due()

    async def _stream_loop(self) -> None:
        tick_s = 0.1
        owed = 0.0
        while True:
            await asyncio.sleep(tick_s)
            if self.stream_per_s <= 0:
                owed = 0.0
                continue
            owed += self.stream_per_s * tick_s
            whole = int(owed)
            for account in self.accounts:
                if whole:
                    with contextlib.suppress(Exception):  # keep the stream alive
                        self.random_changes(account, whole)
            owed -= int(owed)
