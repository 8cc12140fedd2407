"""Fixtures of the API-side tests: an account's credentials and a client factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from pipelines.settings import Credentials
from pipelines.tampuuri.client import TampuuriClient
from pipelines.tampuuri.ledger import CallLedger
from pipelines.tampuuri.retry import RetryBudget, RetryPolicy

from .fakes import API_KEY, BASE_URL, PASSWORD, SleepRecorder


@pytest.fixture
def credentials() -> Credentials:
    return Credentials(
        api_key=SecretStr(API_KEY),
        customer_name="Isännöinti Äijälä Oy",
        account_name="Demo A",
        username="api-user",
        password=SecretStr(PASSWORD),
        software_version="tampuuri-sync_test",
    )


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


ClientFactory = Callable[..., TampuuriClient]


@pytest.fixture
def make_client(credentials: Credentials, sleeps: SleepRecorder) -> ClientFactory:
    """Build a client for account 'demo-a' over a given transport (retries wait for nothing)."""

    def build(
        transport: httpx.AsyncBaseTransport,
        *,
        ledger: CallLedger | None = None,
        max_attempts: int = 4,
        retry_cap: int = 100,
        base_url: str = BASE_URL,
        **kwargs: Any,
    ) -> TampuuriClient:
        return TampuuriClient(
            "demo-a",
            base_url,
            credentials,
            transport=transport,
            ledger=ledger,
            retry=RetryPolicy(max_attempts=max_attempts, backoff_initial_s=0.5, backoff_max_s=8),
            retry_budget=RetryBudget(retry_cap),
            sleep=sleeps,
            **kwargs,
        )

    return build


@pytest.fixture
def anyio_backend() -> str:
    # Async tests run on asyncio only (the anyio pytest plugin ships with httpx's anyio).
    return "asyncio"
