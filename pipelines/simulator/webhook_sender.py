"""Tampuuri's webhook event bus: listeners, bundles, retries with backoff, a delivery log.

Due notifications of a listener are bundled at delivery time into
`{"Attempts": n, "Notifications": [...]}` and POSTed. Any non-2xx answer, connection
error or timeout is a failed attempt; the same bundle is retried (Attempts + 1) after the
configured backoff, at most 5 attempts, then dropped, as Tampuuri does.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from pipelines.simulator.dates import TICKS_PER_SECOND, format_ticks

MAX_ATTEMPTS = 5


@dataclass
class Bundle:
    id: int
    notifications: list[dict[str, Any]]
    attempts: int = 0
    next_at: int = 0  # ticks


@dataclass
class Listener:
    id: int
    account: str
    url: str
    events: frozenset[str] | None
    secret_header: tuple[str, str] | None
    pending: list[dict[str, Any]] = field(default_factory=list)
    bundles: list[Bundle] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        # No URL (it may carry a secret token) and no header value.
        return {
            "id": self.id,
            "account": self.account,
            "events": sorted(self.events) if self.events is not None else None,
            "secret_header": self.secret_header[0] if self.secret_header else None,
            "pending": len(self.pending),
            "bundles_in_retry": len(self.bundles),
        }


class WebhookSender:
    """Queues notifications per listener and delivers them as bundles."""

    def __init__(
        self,
        now_ticks: Callable[[], int],
        *,
        retry_delays_s: tuple[float, ...],
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._now = now_ticks
        self._delays = retry_delays_s or (0.0,)
        self._timeout = timeout_s
        self._transport = transport
        self._lock = threading.Lock()
        self._listeners: dict[int, Listener] = {}
        self._ids = itertools.count(1)
        self._bundle_ids = itertools.count(1)
        self._log: list[dict[str, Any]] = []
        self._delivering: asyncio.Lock | None = None

    def add_listener(
        self,
        account: str,
        url: str,
        events: list[str] | None = None,
        secret_header: tuple[str, str] | None = None,
    ) -> Listener:
        with self._lock:
            listener = Listener(
                next(self._ids), account, url, frozenset(events) if events is not None else None,
                secret_header,
            )  # fmt: skip
            self._listeners[listener.id] = listener
        return listener

    def listeners(self) -> list[dict[str, Any]]:
        with self._lock:
            return [item.public() for item in self._listeners.values()]

    def enqueue(self, account: str, notifications: list[dict[str, Any]]) -> None:
        with self._lock:
            for listener in self._listeners.values():
                if listener.account != account:
                    continue
                listener.pending.extend(
                    n
                    for n in notifications
                    if listener.events is None or n["Action"] in listener.events
                )

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._log)

    def _due(self, now: int) -> list[tuple[Listener, Bundle]]:
        with self._lock:
            due: list[tuple[Listener, Bundle]] = []
            for listener in self._listeners.values():
                if listener.pending:
                    bundle = Bundle(next(self._bundle_ids), listener.pending, next_at=now)
                    listener.pending = []
                    listener.bundles.append(bundle)
                due.extend((listener, b) for b in listener.bundles if b.next_at <= now)
            return due

    async def deliver_due(self) -> list[dict[str, Any]]:
        """Deliver every due bundle once; returns the delivery log entries written."""
        if self._delivering is None:
            self._delivering = asyncio.Lock()
        async with self._delivering:
            now = self._now()
            due = self._due(now)
            if not due:
                return []
            entries = []
            async with httpx.AsyncClient(
                transport=self._transport, timeout=self._timeout
            ) as client:
                for listener, bundle in due:
                    entries.append(await self._attempt(client, listener, bundle))
            return entries

    async def _attempt(
        self, client: httpx.AsyncClient, listener: Listener, bundle: Bundle
    ) -> dict[str, Any]:
        bundle.attempts += 1
        payload = {"Attempts": bundle.attempts, "Notifications": bundle.notifications}
        headers = dict([listener.secret_header]) if listener.secret_header else {}
        status: int | None = None
        error: str | None = None
        try:
            response = await client.post(listener.url, json=payload, headers=headers)
            status = response.status_code
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as exc:
            error = type(exc).__name__  # the class name only: a message could echo the URL
        now = self._now()
        if status is not None and 200 <= status < 300:
            outcome = "delivered"
        elif bundle.attempts >= MAX_ATTEMPTS:
            outcome = "dropped"
        else:
            outcome = "retry"
            delay = self._delays[min(bundle.attempts - 1, len(self._delays) - 1)]
            bundle.next_at = now + int(delay * TICKS_PER_SECOND)
        with self._lock:
            if outcome != "retry" and bundle in listener.bundles:
                listener.bundles.remove(bundle)
            entry = {
                "listener": listener.id,
                "account": listener.account,
                "bundle": bundle.id,
                "attempt": bundle.attempts,
                "status": status,
                "error": error,
                "outcome": outcome,
                "notifications": len(bundle.notifications),
                "actions": [n["Action"] for n in bundle.notifications],
                "at": format_ticks(now),
            }
            self._log.append(entry)
        return entry
