"""`LedgerTransport`: the httpx transport that admits every request to the call ledger
before it is sent, and answers its record after (`ledger.py` says why, and the bound on
what a killed process leaves counted)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from pipelines.tampuuri.body_release import on_body_closed
from pipelines.tampuuri.ledger import CallLedger, admission_ahead
from pipelines.tampuuri.ledger_records import CallRecord

UNKNOWN_ROUTE = "(unknown)"


class LedgerTransport(httpx.AsyncBaseTransport):
    """An httpx transport that admits every request to the ledger before sending it.

    Args:
        inner: The transport that really sends the request.
        ledger: Where records go.
        account: The account label written on each record.
        trigger: What started the work (nightly, manual, webhook, ...).
        run_id: The sync run, if any.
        max_in_flight: The client's cap: at most this many requests sent and not yet read
            (until its body is closed), while at most half as many more are admitted or
            admitting (module docstring).
            None: the caller bounds concurrency (admission then holds its slot).
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        ledger: CallLedger,
        *,
        account: str,
        trigger: str,
        run_id: str | None,
        max_in_flight: int | None = None,
    ) -> None:
        self._inner = inner
        self._ledger = ledger
        self._account = account
        self._trigger = trigger
        self._run_id = run_id
        # Half the cap ahead hides an admission up to half a call's time; more would only
        # leave more admitted calls unsent after a kill.
        ahead = admission_ahead(max_in_flight or 0)
        self._admitting = asyncio.Semaphore(ahead) if max_in_flight else None
        self._sending = asyncio.Semaphore(max_in_flight) if max_in_flight else None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._admitting is None or self._sending is None:
            return await self._send(request, await self._admit(request))
        async with self._admitting:  # released once this request holds a sending slot
            call_id = await self._admit(request)
            try:
                await self._sending.acquire()
            except asyncio.CancelledError:
                self._ledger.retract(call_id)  # admitted, never sent
                raise
        try:
            response = await self._send(request, call_id)
        except BaseException:
            self._sending.release()
            raise
        # The slot is held until the body is read and closed: released at the headers, it
        # let the next request in while every connection was still reading a body, and
        # that request waited in a busy connection's pool for a whole call (p99 136 ms of
        # 100 ms calls, benchmarks/RESULTS.md).
        return on_body_closed(response, self._sending.release)

    async def _admit(self, request: httpx.Request) -> int:
        route = request.extensions.get("route_template") or _path_template(request)
        return await self._ledger.admit(
            CallRecord(
                account=self._account,
                sent_at=datetime.now(UTC),
                method=request.method,
                route=str(route),
                status=None,
                duration_ms=None,
                trigger=self._trigger,
                run_id=self._run_id,
            )
        )

    async def _send(self, request: httpx.Request, call_id: int) -> httpx.Response:
        started = time.monotonic()
        status: int | None = None
        try:
            response = await self._inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            # Failures (status None) are billed too; so is a cancelled send: the request
            # may already have reached the API.
            self._ledger.answer(call_id, status, int((time.monotonic() - started) * 1000))

    async def aclose(self) -> None:
        await self._inner.aclose()


def _path_template(request: httpx.Request) -> str:
    """Fallback when the caller set no template: the URL path, without the version root."""
    path = request.url.path.lower()
    marker = "/api/"
    if marker in path:
        path = path.split(marker, 1)[1]
    return path.strip("/") or UNKNOWN_ROUTE
