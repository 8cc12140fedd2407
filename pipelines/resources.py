"""Thin Dagster resources over the warehouse and the Tampuuri accounts.

Nothing secret is a resource config value: the UI shows config values, so credentials stay
the *names* of environment variables in the accounts file, read by `AccountConfig` when a
run needs them. The warehouse URL (it may hold a password) defaults to
`$TAMPUURI_DATABASE_URL` read at run time (`embedded`: the embedded server; unset: an error).
"""

import os
import threading
from typing import Any

import dagster as dg
from pydantic import PrivateAttr
from sqlalchemy import Engine

from pipelines.settings import AccountConfig, ConfigError, find_account, load_accounts
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import SyncReport
from pipelines.warehouse.engine import database_url, make_engine
from pipelines.warehouse.migrations import upgrade

# Migrations run once per process and database, not once per run or step.
_UPGRADED: set[str] = set()
_UPGRADE_LOCK = threading.Lock()


def _upgrade_once(engine: Engine, url: str) -> None:
    with _UPGRADE_LOCK:
        if url not in _UPGRADED:
            upgrade(engine)
            _UPGRADED.add(url)


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The PostgreSQL warehouse; migrations are applied before first use in a process."""

    database_url: str | None = None
    pool_size: int = 8

    _engine: Engine | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        url = self.database_url or database_url()
        self._engine = make_engine(url, pool_size=self.pool_size)
        _upgrade_once(self._engine, url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Engine:
        """The run's engine (only inside a run, after set-up)."""
        if self._engine is None:
            raise RuntimeError("WarehouseResource.engine is only available inside a run")
        return self._engine


class TampuuriResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The configured Tampuuri accounts and the sync entry point.

    `accounts_file` overrides `$TAMPUURI_ACCOUNTS_FILE`. `transport` is for tests only: an
    `httpx.AsyncBaseTransport` (e.g. `httpx.ASGITransport` over the in-process simulator)
    passed as a resource dependency, so it is never run config and never shown in the UI.
    """

    accounts_file: str | None = None
    transport: dg.ResourceDependency[Any] = None  # type: ignore[assignment]

    def accounts(self) -> list[AccountConfig]:
        """The configured accounts; raises ConfigError naming what is wrong."""
        if self.accounts_file:
            return load_accounts({**os.environ, "TAMPUURI_ACCOUNTS_FILE": self.accounts_file})
        return load_accounts()

    def configured_accounts(self) -> list[AccountConfig]:
        """Every configured account, or a `dg.Failure` naming the configuration error."""
        try:
            return self.accounts()
        except ConfigError as exc:
            raise dg.Failure(
                description=f"configuration error: {exc}", allow_retries=False
            ) from None

    def account(self, name: str, *, credentials: bool = True) -> AccountConfig:
        """One configured account, or a `dg.Failure` whose message names what is wrong.

        With `credentials`, the account's secrets must be in the environment: they are
        resolved here only to fail early naming the missing variable; `run_sync` reads them
        again where it uses them, and nothing keeps them.
        """
        try:
            account = find_account(self.accounts(), name)
            if credentials:
                account.resolve_credentials()
        except ConfigError as exc:
            raise dg.Failure(
                description=f"configuration error: {exc}", allow_retries=False
            ) from None
        return account

    def sync(
        self,
        engine: Engine,
        account: AccountConfig,
        resource: str,
        *,
        full: bool,
        trigger: str,
        run_id: str,
    ) -> SyncReport:
        """Run the shared sync engine for one resource of one account."""
        request = SyncRequest(
            account, resources=(resource,), full=full, trigger=trigger, run_id=run_id
        )
        return run_sync(engine, request, transport=self.transport)
