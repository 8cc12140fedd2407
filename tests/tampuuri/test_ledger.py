"""The call-ledger contract: every request through LedgerTransport is exactly one
CallRecord (failures with status None, re-raised), records reach the sink in batches off
the hot path, flush() writes the rest and waits, and counting is thread-safe."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
import pytest

from pipelines.tampuuri.ledger import CallLedger, CallRecord, LedgerTransport


def _record(status: int | None = 200, route: str = "kustannuspaikat/selaa") -> CallRecord:
    return CallRecord(
        account="demo-a",
        sent_at=datetime.now(UTC),
        method="GET",
        route=route,
        status=status,
        duration_ms=1,
        trigger="manual",
        run_id="run-1",
    )


class ListSink:
    def __init__(self) -> None:
        self.batches: list[list[CallRecord]] = []
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, batch: Sequence[CallRecord]) -> None:
        with self.lock:
            self.batches.append(list(batch))
            self.threads.add(threading.current_thread().name)

    @property
    def records(self) -> list[CallRecord]:
        return [r for b in self.batches for r in b]


def test_batches_are_flushed_in_the_background_and_on_flush() -> None:
    sink = ListSink()
    ledger = CallLedger(sink, batch_size=3)
    for status in (200, 200, 500, 200, 429, 200, None):
        ledger.record(_record(status))
    assert ledger.records_total == 7
    ledger.flush()
    assert [len(b) for b in sink.batches] == [3, 3, 1]
    assert [r.status for r in sink.records] == [200, 200, 500, 200, 429, 200, None]
    assert ledger.counts_by_status() == {200: 4, 500: 1, 429: 1, None: 1}
    # The sink never runs on the caller's thread: a database write is off the hot path.
    assert threading.current_thread().name not in sink.threads
    ledger.flush()  # idempotent: nothing left, nothing written twice
    assert len(sink.records) == 7


def test_concurrent_recording_loses_nothing() -> None:
    sink = ListSink()
    ledger = CallLedger(sink, batch_size=50)

    def work() -> None:
        for _ in range(250):
            ledger.record(_record())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.flush()
    assert ledger.records_total == 2000
    assert len(sink.records) == 2000
    assert all(len(b) == 50 for b in sink.batches)


def test_sink_failure_surfaces_on_flush_and_counts_stay() -> None:
    def broken(batch: Sequence[CallRecord]) -> None:
        raise RuntimeError("database down")

    ledger = CallLedger(broken, batch_size=2)
    for _ in range(3):
        ledger.record(_record())
    with pytest.raises(RuntimeError, match="database down"):
        ledger.flush()
    assert ledger.records_total == 3
    ledger.flush()  # the error was reported once


def test_ledger_without_sink_only_counts() -> None:
    ledger = CallLedger(None)
    ledger.record(_record(404))
    ledger.flush()
    assert ledger.records_total == 1
    assert ledger.counts_by_status() == {404: 1}


@pytest.mark.anyio
async def test_transport_records_every_request_and_reraises_failures() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200 if calls == 1 else 503, json={})

    sink = ListSink()
    ledger = CallLedger(sink)
    transport = LedgerTransport(
        httpx.MockTransport(handler), ledger, account="demo-a", trigger="nightly", run_id="r1"
    )
    async with httpx.AsyncClient(transport=transport) as http:
        await http.get(
            "http://t/v10/api/kohteet/5", extensions={"route_template": "kohteet/{kohde_id}"}
        )
        with pytest.raises(httpx.ReadTimeout):
            await http.get(
                "http://t/v10/api/kohteet/6", extensions={"route_template": "kohteet/{kohde_id}"}
            )
        # Without a template the URL path (below the version root) stands in.
        await http.get("http://t/v10/api/Ilmoitukset/Selaa")
    ledger.flush()
    assert [(r.method, r.route, r.status) for r in sink.records] == [
        ("GET", "kohteet/{kohde_id}", 200),
        ("GET", "kohteet/{kohde_id}", None),
        ("GET", "ilmoitukset/selaa", 503),
    ]
    first = sink.records[0]
    assert (first.account, first.trigger, first.run_id) == ("demo-a", "nightly", "r1")
    assert first.sent_at.tzinfo is UTC and first.duration_ms >= 0
