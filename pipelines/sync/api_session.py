"""One way to talk to an account's API: a client with the run's ledger, timeouts and retries.

Every path that calls Tampuuri (the sync, webhook refreshes, reconciliation probes) opens
its client here, so every request is ledgered the same way, the same timeouts, retry
policy and network options (proxy, TLS trust, client certificate, HTTP/2) apply, and the
account's secrets are masked in logs before the first call.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import Engine

from pipelines.settings import AccountConfig, SyncSettings
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.retry import RetryBudget, RetryPolicy
from pipelines.tampuuri.sanitize import install_redaction
from pipelines.warehouse.ledger_sink import LedgerSink


@asynccontextmanager
async def api_session(
    engine: Engine,
    account: AccountConfig,
    *,
    settings: SyncSettings,
    trigger: str,
    run_id: str,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    retry_cap: int | None = None,
) -> AsyncIterator[TampuuriClient]:
    """A ledgered client for `account`; the ledger is flushed when the session ends.

    Raises:
        ConfigError: the account's credentials are not in the environment, or a file of
            its network options is missing or unreadable.
    """
    credentials = account.resolve_credentials(environ)
    ledger = CallLedger(LedgerSink(engine))
    client = TampuuriClient(
        account.name,
        account.base_url,
        credentials,
        transport=transport,
        network=account.network,
        ledger=ledger,
        trigger=trigger,
        run_id=run_id,
        timeout=httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s),
        max_concurrency=max(settings.page_concurrency, settings.scope_concurrency),
        retry=RetryPolicy(
            max_attempts=settings.max_attempts,
            backoff_initial_s=settings.backoff_initial_s,
            backoff_max_s=settings.backoff_max_s,
        ),
        retry_budget=RetryBudget(settings.retry_cap_per_run if retry_cap is None else retry_cap),
    )
    install_redaction(client.secrets)  # the credentials and an environment proxy's password
    try:
        async with client:
            yield client
    finally:
        await asyncio.to_thread(ledger.flush)
