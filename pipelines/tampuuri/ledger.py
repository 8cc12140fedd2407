"""The call ledger: one record per request sent to Tampuuri, retries and failures included.

Tampuuri bills every command sent, failed ones too, so the ledger sits at the transport:
`LedgerTransport` wraps whatever transport the client uses (real sockets, the in-process
simulator, a test's MockTransport) and records each request that passes through it. It
is the ground truth of "calls made" and must equal the simulator's transaction count.

Records are buffered; a full batch is handed to the sink (e.g. an INSERT of many rows into
`ops.api_calls`) on a background thread so that a database round trip never sits on the
request path. `flush()` writes the rest and waits for every batch in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

log = logging.getLogger(__name__)

Sink = Callable[[Sequence["CallRecord"]], None]
UNKNOWN_ROUTE = "(unknown)"


@dataclass(frozen=True)
class CallRecord:
    """One request sent to the API (one billed call).

    Attributes:
        account: The account label the call was made for.
        sent_at: When the request was sent (aware, UTC).
        method: HTTP method.
        route: Route template, e.g. "kohteet/{kohde_id}/selaa".
        status: HTTP status, or None when no response came (timeout, connection error).
        duration_ms: Time until the response headers (or the failure).
        trigger: What started the work: nightly, manual, webhook, reconcile, probe, ...
        run_id: The sync run, when there is one.
    """

    account: str
    sent_at: datetime
    method: str
    route: str
    status: int | None
    duration_ms: int
    trigger: str
    run_id: str | None


class CallLedger:
    """A thread-safe buffer of `CallRecord`s, flushed to a sink in batches.

    Args:
        sink: Called with each batch (from a background thread); None keeps only counts.
        batch_size: Records per batch handed to the sink.
        max_delay_s: A record waits at most this long before its batch is written, so a
            run killed midway (SIGKILL, OOM) loses at most this window of billed calls
            from the ledger.
    """

    def __init__(
        self, sink: Sink | None, *, batch_size: int = 200, max_delay_s: float = 1.0
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._sink = sink
        self._batch_size = batch_size
        self._max_delay_s = max_delay_s
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._buffer: list[CallRecord] = []
        self._by_status: Counter[int | None] = Counter()
        self._total = 0
        self._pending: list[Future[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._errors: list[BaseException] = []

    @property
    def records_total(self) -> int:
        """How many calls were recorded (flushed or not)."""
        with self._lock:
            return self._total

    def counts_by_status(self) -> dict[int | None, int]:
        """Recorded calls per HTTP status (None: no response)."""
        with self._lock:
            return dict(self._by_status)

    def record(self, rec: CallRecord) -> None:
        """Buffer one record; a full batch goes to the sink in the background."""
        with self._lock:
            self._total += 1
            self._by_status[rec.status] += 1
            if self._sink is None:
                return
            self._buffer.append(rec)
            if len(self._buffer) < self._batch_size:
                if self._timer is None:
                    self._timer = threading.Timer(self._max_delay_s, self._flush_due)
                    self._timer.daemon = True
                    self._timer.start()
                return
            batch, self._buffer = self._buffer, []
            self._submit(batch)

    def _flush_due(self) -> None:
        """The timer's flush: hand whatever is buffered to the sink (not waiting)."""
        with self._lock:
            self._timer = None
            if self._buffer:
                batch, self._buffer = self._buffer, []
                self._submit(batch)

    def flush(self) -> None:
        """Write every buffered record and wait for all batches in flight.

        Raises:
            Exception: the first sink failure since the last flush (the batch is lost
                from the sink, but counts stay correct).
        """
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._buffer:
                batch, self._buffer = self._buffer, []
                self._submit(batch)
            pending, self._pending = self._pending, []
            executor, self._executor = self._executor, None
        for future in pending:
            future.exception()  # wait; errors are collected by _write
        if executor is not None:
            executor.shutdown(wait=True)
        with self._lock:
            errors, self._errors = self._errors, []
        if errors:
            raise errors[0]

    def _submit(self, batch: list[CallRecord]) -> None:
        # Called with the lock held. One worker thread keeps batches in order.
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-ledger")
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._executor.submit(self._write, batch))

    def _write(self, batch: list[CallRecord]) -> None:
        assert self._sink is not None
        try:
            self._sink(batch)
        except Exception as exc:
            log.error(
                "call ledger: writing %d record(s) failed: %s", len(batch), type(exc).__name__
            )
            with self._lock:
                self._errors.append(exc)


class LedgerTransport(httpx.AsyncBaseTransport):
    """An httpx transport that records every request passing through it.

    Args:
        inner: The transport that really sends the request.
        ledger: Where records go.
        account: The account label written on each record.
        trigger: What started the work (nightly, manual, webhook, ...).
        run_id: The sync run, if any.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        ledger: CallLedger,
        *,
        account: str,
        trigger: str,
        run_id: str | None,
    ) -> None:
        self._inner = inner
        self._ledger = ledger
        self._account = account
        self._trigger = trigger
        self._run_id = run_id

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route = request.extensions.get("route_template") or _path_template(request)
        sent_at = datetime.now(UTC)
        started = time.monotonic()
        status: int | None = None
        try:
            response = await self._inner.handle_async_request(request)
            status = response.status_code
            return response
        finally:
            # Failures (status None) are billed too: record them, then let them propagate.
            # Cancellation counts as well: the request may already have reached the API.
            self._ledger.record(
                CallRecord(
                    account=self._account,
                    sent_at=sent_at,
                    method=request.method,
                    route=str(route),
                    status=status,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    trigger=self._trigger,
                    run_id=self._run_id,
                )
            )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _path_template(request: httpx.Request) -> str:
    """Fallback when the caller set no template: the URL path, without the version root."""
    path = request.url.path.lower()
    marker = "/api/"
    if marker in path:
        path = path.split(marker, 1)[1]
    return path.strip("/") or UNKNOWN_ROUTE
