"""A tiny paged list API for MockTransport tests: exact fault sequences, injected per call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import orjson

MAX_LIMIT = 250
API_KEY = "0f8e2c1a-SECRET-KEY-7d41"
PASSWORD = "hunter2-SECRET-PW"
BASE_URL = "http://tampuuri.test/v10/api/"


class SleepRecorder:
    """Stands in for asyncio.sleep between retries: records the waits, waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def envelope(offset: int, limit: int, total: int, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Offset": offset, "Limit": limit, "Total": total, "Items": items}


class FakeList:
    """Serves `rows` as a paged list (query or body paging), and records every request.

    `before_call(n)` runs before answering the n-th call (1-based) so a test can change
    the rows mid-scan (drift). `delay_s` keeps requests in flight to measure concurrency.
    """

    def __init__(
        self,
        total: int,
        *,
        before_call: Callable[[int, FakeList], None] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        self.rows: list[dict[str, Any]] = [
            {"Id": i, "Nimi": f"rivi {i}"} for i in range(1, total + 1)
        ]
        self.requests: list[httpx.Request] = []
        self.before_call = before_call
        self.delay_s = delay_s
        self.in_flight = 0
        self.max_in_flight = 0

    def paging_of(self, request: httpx.Request) -> dict[str, Any]:
        if request.method == "GET":
            return {
                k: int(v) if k in ("Offset", "Limit") else v for k, v in request.url.params.items()
            }
        return orjson.loads(request.content)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.before_call is not None:
                self.before_call(len(self.requests), self)
            asked = self.paging_of(request)
            offset = int(asked.get("Offset", 0))
            limit = min(int(asked.get("Limit", 50)), MAX_LIMIT)
            page = self.rows[offset : offset + limit]
            return httpx.Response(200, json=envelope(offset, limit, len(self.rows), page))
        finally:
            self.in_flight -= 1

    def offsets(self) -> list[int]:
        return sorted(int(self.paging_of(r)["Offset"]) for r in self.requests)
