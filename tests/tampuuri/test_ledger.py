"""The call-ledger contract (write-ahead, `pipelines/tampuuri/ledger.py`).

- A request reaches the network only after its record was admitted by the sink, and off
  the event loop's thread; its answer (status, duration; None for no response) follows.
- Admission is batched: every request that queued while a write was in flight goes in the
  next single write.
- A request whose admission fails is not sent (`LedgerUnavailable`); one cancelled while
  waiting is not sent and leaves no record (dropped, or retracted once written).
- Given the client's cap, admission overlaps the calls in flight: at most the cap sent and
  unanswered, at most half the cap more admitted behind them (left unsent by a kill).
- A sending slot is held until the answer's body is closed, so a request never lands on a
  connection still busy with another call while a connection is free.
- Answers are written in batches, on a timer when calls go quiet, and on flush().
- A plain callable sink gets each record once answered; no sink only counts.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC

import httpx
import pytest

from pipelines.tampuuri.ledger import (
    Answer,
    CallLedger,
    CallRecord,
    LedgerUnavailable,
)
from pipelines.tampuuri.ledger_transport import LedgerTransport
from pipelines.tampuuri.pool_shards import PoolShards

URL = "http://t/v10/api/kohteet/5"
ROUTE = {"route_template": "kohteet/{kohde_id}"}


class MemorySink:
    """A WriteAheadSink in memory; `gate` (when given) holds the first admission."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.rows: dict[int, CallRecord] = {}
        self.admitted: list[list[int]] = []
        self.settled: list[list[Answer]] = []
        self.retracted: list[int] = []
        self.threads: set[str] = set()
        self.writing = threading.Event()
        self.closed = 0
        self.fail_admit = False

    def admit(self, records: Sequence[CallRecord]) -> list[int]:
        self.threads.add(threading.current_thread().name)
        self.writing.set()
        if self.gate is not None and not self.admitted:
            assert self.gate.wait(5)
        if self.fail_admit:
            raise OSError("database down")
        ids = [len(self.rows) + i + 1 for i in range(len(records))]
        self.rows.update(zip(ids, records, strict=True))
        self.admitted.append(ids)
        return ids

    def settle(self, answers: Sequence[Answer], retracted: Sequence[int]) -> None:
        self.threads.add(threading.current_thread().name)
        if answers:
            self.settled.append(list(answers))
        self.retracted.extend(retracted)

    def close(self) -> None:
        self.closed += 1

    @property
    def answers(self) -> dict[int, tuple[int | None, int]]:
        return {a.call_id: (a.status, a.duration_ms) for b in self.settled for a in b}


def transport_for(
    handler, ledger: CallLedger, *, run_id: str | None = "r1", max_in_flight: int | None = None
) -> LedgerTransport:
    return LedgerTransport(
        httpx.MockTransport(handler),
        ledger,
        account="demo-a",
        trigger="nightly",
        run_id=run_id,
        max_in_flight=max_in_flight,
    )


@pytest.mark.anyio
async def test_each_request_is_admitted_before_it_is_sent_and_answered_after() -> None:
    sink = MemorySink()
    ledger = CallLedger(sink)
    seen_at_send: list[int] = []
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        seen_at_send.append(len(sink.rows))  # this request's row is already there
        if calls == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200 if calls == 1 else 503, json={})

    async with httpx.AsyncClient(transport=transport_for(handler, ledger)) as http:
        await http.get(URL, extensions=ROUTE)
        with pytest.raises(httpx.ReadTimeout):
            await http.get(URL, extensions=ROUTE)
        await http.get("http://t/v10/api/Ilmoitukset/Selaa")  # no template: the path
    assert seen_at_send == [1, 2, 3]
    await asyncio.to_thread(ledger.flush)
    assert [(r.method, r.route, r.status, r.duration_ms) for r in sink.rows.values()] == [
        ("GET", "kohteet/{kohde_id}", None, None),
        ("GET", "kohteet/{kohde_id}", None, None),
        ("GET", "ilmoitukset/selaa", None, None),
    ]
    assert {k: v[0] for k, v in sink.answers.items()} == {1: 200, 2: None, 3: 503}
    assert all(ms >= 0 for _, ms in sink.answers.values())
    first = sink.rows[1]
    assert (first.account, first.trigger, first.run_id) == ("demo-a", "nightly", "r1")
    assert first.sent_at.tzinfo is UTC
    assert ledger.records_total == 3
    assert ledger.counts_by_status() == {200: 1, None: 1, 503: 1}
    # The sink never runs on the event loop's thread: no database wait blocks the loop.
    assert threading.current_thread().name not in sink.threads
    assert sink.closed == 1


@pytest.mark.anyio
async def test_requests_queued_during_a_write_share_the_next_write() -> None:
    gate = threading.Event()
    sink = MemorySink(gate)
    ledger = CallLedger(sink)
    transport = transport_for(lambda r: httpx.Response(200, json={}), ledger)
    async with httpx.AsyncClient(transport=transport) as http:
        tasks = [asyncio.create_task(http.get(URL, extensions=ROUTE))]
        await asyncio.to_thread(sink.writing.wait, 5)  # the first write is in flight
        tasks += [asyncio.create_task(http.get(URL, extensions=ROUTE)) for _ in range(19)]
        for _ in range(500):  # the 19 queue behind it (a busy machine: wait for them)
            if len(ledger._queue) == 19:
                break
            await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(*tasks)
    await asyncio.to_thread(ledger.flush)
    # One write for the first request, one for all 19 that queued meanwhile.
    assert [len(b) for b in sink.admitted] == [1, 19]
    assert len(sink.answers) == 20


@pytest.mark.anyio
async def test_a_request_the_ledger_cannot_record_is_not_sent() -> None:
    sink = MemorySink()
    sink.fail_admit = True
    ledger = CallLedger(sink)
    sent = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        sent += 1
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=transport_for(handler, ledger)) as http:
        with pytest.raises(LedgerUnavailable, match="OSError"):
            await http.get(URL, extensions=ROUTE)
        sink.fail_admit = False  # the next call, once the database is back, goes
        await http.get(URL, extensions=ROUTE)
    await asyncio.to_thread(ledger.flush)
    assert sent == 1
    assert ledger.records_total == 1


@pytest.mark.anyio
async def test_requests_cancelled_before_sending_leave_no_record() -> None:
    gate = threading.Event()
    sink = MemorySink(gate)
    ledger = CallLedger(sink)
    sent = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        sent += 1
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=transport_for(handler, ledger)) as http:
        writing = asyncio.create_task(http.get(URL, extensions=ROUTE))
        await asyncio.to_thread(sink.writing.wait, 5)  # its record is being written
        queued = asyncio.create_task(http.get(URL, extensions=ROUTE))
        await asyncio.sleep(0.02)  # this one waits for the next write
        writing.cancel()
        queued.cancel()
        await asyncio.sleep(0.02)  # both see their cancellation while the write is held
        gate.set()
        for task in (writing, queued):
            with pytest.raises(asyncio.CancelledError):
                await task
        await asyncio.to_thread(ledger.flush)
    assert sent == 0
    assert sink.admitted == [[1]]  # the queued one was never written
    assert sink.retracted == [1]  # the written one was taken back
    assert ledger.records_total == 0


@pytest.mark.anyio
async def test_admission_overlaps_the_calls_in_flight_within_the_cap() -> None:
    sink = MemorySink()
    ledger = CallLedger(sink)
    answer = asyncio.Event()
    on_wire = peak = sent = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal on_wire, peak, sent
        sent += 1
        on_wire += 1
        peak = max(peak, on_wire)
        await answer.wait()
        on_wire -= 1
        return httpx.Response(200, json={})

    transport = transport_for(handler, ledger, max_in_flight=4)
    async with httpx.AsyncClient(transport=transport) as http:
        tasks = [asyncio.create_task(http.get(URL, extensions=ROUTE)) for _ in range(8)]
        for _ in range(500):  # 4 on the wire, 2 admitted behind them (a busy machine: wait)
            if ledger.records_total == 6 and sent == 4:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # and no more than that
        assert (sent, ledger.records_total) == (4, 6)
        tasks[4].cancel()  # admitted, not sent (semaphores are FIFO: 0 to 3 are sent)
        answer.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.to_thread(ledger.flush)
    assert sum(isinstance(r, httpx.Response) for r in results) == 7
    assert (peak, sent, ledger.records_total) == (4, 7, 7)
    assert len(sink.retracted) == 1  # the cancelled one was admitted, never sent
    assert len(sink.answers) == 7


class SlowBody(httpx.AsyncByteStream):
    """A body that arrives only once `sent` is set (a large page still on the wire)."""

    def __init__(self, sent: asyncio.Event) -> None:
        self.sent = sent

    async def __aiter__(self):
        await self.sent.wait()
        yield b"{}"


@pytest.mark.anyio
async def test_a_request_waits_for_a_free_connection_not_behind_a_busy_one() -> None:
    """Two connections (a pool each), two slots: a slow call holds connection 0 and a
    second call's body is still arriving on connection 1 when a third call comes. Released
    at the second call's headers, the slot let the third one in while both pools were
    busy, and it went to the first (index 0): behind the slow call, a whole call's wait."""
    slow_answer, second_body = asyncio.Event(), asyncio.Event()
    seen: list[tuple[int, str]] = []

    def pool(number: int) -> httpx.MockTransport:
        async def handler(request: httpx.Request) -> httpx.Response:
            seen.append((number, request.url.path))
            if request.url.path.endswith("/slow"):
                await slow_answer.wait()
                return httpx.Response(200, json={})
            if request.url.path.endswith("/second"):
                return httpx.Response(200, stream=SlowBody(second_body))
            return httpx.Response(200, json={})

        return httpx.MockTransport(handler)

    ledger = CallLedger(MemorySink())
    transport = LedgerTransport(
        PoolShards([pool(0), pool(1)]),
        ledger,
        account="demo-a",
        trigger="nightly",
        run_id="r1",
        max_in_flight=2,
    )
    async with httpx.AsyncClient(transport=transport) as http:
        slow = asyncio.create_task(http.get("http://t/v10/api/slow", extensions=ROUTE))
        while len(seen) < 1:
            await asyncio.sleep(0.005)
        second = asyncio.create_task(http.get("http://t/v10/api/second", extensions=ROUTE))
        while len(seen) < 2:
            await asyncio.sleep(0.005)
        third = asyncio.create_task(http.get("http://t/v10/api/third", extensions=ROUTE))
        await asyncio.sleep(0.05)
        assert len(seen) == 2  # no slot while the second body is arriving
        second_body.set()
        assert (await third).status_code == 200  # before the slow call has an answer
        assert not slow.done()
        slow_answer.set()
        await asyncio.gather(slow, second)
    assert seen == [(0, "/v10/api/slow"), (1, "/v10/api/second"), (1, "/v10/api/third")]
    await asyncio.to_thread(ledger.flush)


def test_answers_are_written_in_batches_and_on_a_timer() -> None:
    sink = MemorySink()
    ledger = CallLedger(sink, batch_size=3, max_delay_s=0.05)

    async def send(n: int) -> None:
        transport = transport_for(lambda r: httpx.Response(200, json={}), ledger)
        async with httpx.AsyncClient(transport=transport) as http:
            for _ in range(n):
                await http.get(URL, extensions=ROUTE)

    asyncio.run(send(7))
    # Nothing flushed yet: batches of 3 went with the traffic, the last one on the timer.
    for _ in range(100):
        if len(sink.answers) == 7:
            break
        threading.Event().wait(0.02)
    assert len(sink.answers) == 7
    assert max(len(b) for b in sink.settled) <= 3
    ledger.flush()
    ledger.flush()  # idempotent
    assert len(sink.answers) == 7


def test_a_plain_callable_gets_answered_records() -> None:
    batches: list[list[CallRecord]] = []
    ledger = CallLedger(lambda batch: batches.append(list(batch)))

    async def send() -> None:
        transport = transport_for(lambda r: httpx.Response(404, json={}), ledger)
        async with httpx.AsyncClient(transport=transport) as http:
            await http.get(URL, extensions=ROUTE)

    asyncio.run(send())
    ledger.flush()
    [[record]] = batches
    assert (record.route, record.status) == ("kohteet/{kohde_id}", 404)
    assert record.duration_ms is not None and record.duration_ms >= 0


def test_settle_failure_surfaces_on_flush_once() -> None:
    class Broken(MemorySink):
        def settle(self, answers: Sequence[Answer], retracted: Sequence[int]) -> None:
            raise RuntimeError("database down")

    ledger = CallLedger(Broken())

    async def send() -> None:
        transport = transport_for(lambda r: httpx.Response(200, json={}), ledger)
        async with httpx.AsyncClient(transport=transport) as http:
            await http.get(URL, extensions=ROUTE)

    asyncio.run(send())
    with pytest.raises(RuntimeError, match="database down"):
        ledger.flush()
    assert ledger.records_total == 1  # the call stays counted, without its answer
    ledger.flush()  # the error was reported once


def test_ledger_without_sink_only_counts() -> None:
    ledger = CallLedger(None)

    async def send() -> None:
        transport = transport_for(lambda r: httpx.Response(404, json={}), ledger)
        async with httpx.AsyncClient(transport=transport) as http:
            await http.get(URL, extensions=ROUTE)

    asyncio.run(send())
    ledger.flush()
    assert ledger.records_total == 1
    assert ledger.counts_by_status() == {404: 1}
