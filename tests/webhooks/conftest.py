"""Helpers shared by the webhook tests: notifications, bundles, an in-process client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import text

from pipelines.webhooks.events import EventMapping, load_event_mapping
from pipelines.webhooks.settings import ReceiverSettings

T = TypeVar("T")
SECRET = "s3cret-current"
OLD_SECRET = "s3cret-previous"


def notification(
    ref: int, action: str = "KohderekisteriTietoMuokkaa", account: str = "demo-a", **extra: Any
) -> dict[str, Any]:
    item = {
        "Action": action,
        "Account": account,
        "ReferenceId": ref,
        "ReferenceSecondaryId": None,
        "ReferenceData": None,
        "ReferenceJson": None,
        "Timestamp": f"2025-04-20T00:{ref % 60:02d}:45.8617613+03:00",
    }
    item.update(extra)
    return item


def bundle(*items: dict[str, Any], attempts: int = 1) -> dict[str, Any]:
    return {"Attempts": attempts, "Notifications": list(items)}


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro_factory())  # type: ignore[arg-type]


def asgi_client(app: Any, client_host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://receiver.test")


def count(engine: Any, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


@pytest.fixture(scope="session")
def mapping() -> EventMapping:
    return load_event_mapping()


@pytest.fixture
def settings() -> ReceiverSettings:
    return ReceiverSettings(secrets=(SecretStr(SECRET), SecretStr(OLD_SECRET)))
