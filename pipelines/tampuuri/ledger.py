"""The call ledger: one record per request sent to Tampuuri, retries and failures included.

Tampuuri bills every command sent, failed ones too, so the ledger sits at the transport:
`ledger_transport.LedgerTransport` wraps whatever transport the client uses (real
sockets, the in-process simulator, a test's MockTransport) and records each request. It
is the ground truth of "calls made" and must equal the simulator's transaction count.

The ledger is written ahead. A request is released to the network only once its record
is durable (`WriteAheadSink.admit`: a record without an answer); the answer (status,
duration) follows in batches (`settle`). So a process killed at any moment (SIGKILL, OOM)
leaves no sent call out of the ledger: the count is never below what Tampuuri bills. It
can be above by the requests outstanding when the process died: the records admitted but
not yet released, and requests on the wire that the server never finished (a kill cuts
them; whether Tampuuri bills such a request is not known, so the ledger counts it). That is
at most `outstanding_limit(cap)`: the cap in flight plus half the cap admitted ahead. They
stay as calls without an answer.

Admission is batched so that a call costs about one database round trip of waiting, not
one write of its own: one writer thread writes, in one statement, every record that queued
while its previous write was in flight. With the client's cap (`max_in_flight`) that wait
overlaps the calls in flight: while up to the cap are sent and not yet read, up to half the
cap more are admitted (or admitting) behind them, so a slow database holds no sending slot
and the admitted but unsent stay within the bound above. The event loop never waits on
the database; it awaits a future that the writer resolves. A request cancelled while
waiting is not sent: its record is dropped when not yet written, else retracted by the
writer's next write (a kill before that leaves it counted, within the bound above). When
admission fails (the database is unreachable) the request fails unsent with
`LedgerUnavailable`: a call the ledger could not record is a call not made.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

from pipelines.tampuuri.ledger_records import (
    Answer,
    AnsweredRecords,
    CallRecord,
    Sink,
    WriteAheadSink,
)

log = logging.getLogger(__name__)

# The records and the sink protocol live in ledger_records.py, the transport that admits
# each request in ledger_transport.py; callers import the records here.
__all__ = [
    "Answer",
    "AnsweredRecords",
    "CallLedger",
    "CallRecord",
    "LedgerUnavailable",
    "Sink",
    "WriteAheadSink",
    "admission_ahead",
    "outstanding_limit",
]


class LedgerUnavailable(Exception):
    """The ledger could not record a request, so the request was not sent."""


class CallLedger:
    """Admits calls ahead of sending them and records their answers (module docstring).

    Args:
        sink: A `WriteAheadSink`; a plain callable gets answered records (`AnsweredRecords`);
            None keeps only counts.
        batch_size: Answers written at once at the latest.
        max_delay_s: An answer waits at most this long for a write while calls are quiet.
    """

    def __init__(
        self,
        sink: WriteAheadSink | Sink | None,
        *,
        batch_size: int = 200,
        max_delay_s: float = 1.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if sink is not None and not isinstance(sink, WriteAheadSink):
            sink = AnsweredRecords(sink)
        self._sink: WriteAheadSink | None = sink
        self._batch_size = batch_size
        self._max_delay_s = max_delay_s
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue: list[tuple[CallRecord, Future[int]]] = []
        self._answers: list[Answer] = []
        self._retracted: list[int] = []
        self._settle_due = False
        self._writing = False
        self._timer: threading.Timer | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._errors: list[BaseException] = []
        self._local_ids = itertools.count(1)
        self._by_status: Counter[int | None] = Counter()
        self._total = 0

    @property
    def records_total(self) -> int:
        """How many calls were admitted (sent or about to be)."""
        with self._lock:
            return self._total

    def counts_by_status(self) -> dict[int | None, int]:
        """Answered calls per HTTP status (None: no response)."""
        with self._lock:
            return dict(self._by_status)

    async def admit(self, record: CallRecord) -> int:
        """Wait until `record` is durable; its call id. Send the request only after this.

        Raises:
            LedgerUnavailable: the record could not be written (do not send).
        """
        if self._sink is None:
            with self._lock:
                self._total += 1
                return next(self._local_ids)
        future: Future[int] = Future()
        with self._lock:
            self._queue.append((record, future))
            self._start_writer()
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if not future.cancel():  # the writer has it: the record is (being) written
                future.add_done_callback(self._retract)
            raise

    def answer(self, call_id: int, status: int | None, duration_ms: int) -> None:
        """Record what came back for an admitted call (written in a later batch)."""
        with self._lock:
            self._by_status[status] += 1
            if self._sink is None:
                return
            self._answers.append(Answer(call_id, status, duration_ms))
            if len(self._answers) >= self._batch_size:
                self._start_writer()
            elif not self._writing and self._timer is None:
                self._arm_timer()

    def flush(self) -> None:
        """Write every answer and wait until the writer is idle; release the sink.

        Raises:
            Exception: the first failure to write answers since the last flush (those
                calls stay recorded, without their answers).
        """
        with self._lock:
            if self._sink is None:
                return
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._settle_due = True
            self._start_writer()
            while self._writing:
                self._idle.wait()
            executor, self._executor = self._executor, None
            errors, self._errors = self._errors, []
        if executor is not None:
            executor.shutdown(wait=True)
        self._sink.close()
        if errors:
            raise errors[0]

    def _start_writer(self) -> None:
        # Called with the lock held. One writer at a time keeps writes in order.
        if self._writing:
            return
        self._writing = True
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="call-ledger")
        self._executor.submit(self._drain)

    def _arm_timer(self) -> None:
        self._timer = threading.Timer(self._max_delay_s, self._settle_now)
        self._timer.daemon = True
        self._timer.start()

    def _settle_now(self) -> None:
        with self._lock:
            self._timer = None
            self._settle_due = True
            self._start_writer()

    def retract(self, call_id: int) -> None:
        """An admitted call that will not be sent after all: delete its record next write."""
        with self._lock:
            self._total -= 1
            if self._sink is not None:
                self._retracted.append(call_id)
                self._start_writer()

    def _retract(self, future: Future[int]) -> None:
        """A cancelled waiter's record was written after all: delete it next write."""
        if future.cancelled() or future.exception() is not None:
            return
        self.retract(future.result())

    def _drain(self) -> None:
        """The writer: admissions first (calls wait for them), answers when due."""
        try:
            self._drain_queues()
        except BaseException:  # a bug, not a sink failure: let flush() return, not hang
            with self._lock:
                self._writing = False
                self._idle.notify_all()
            raise

    def _drain_queues(self) -> None:
        assert self._sink is not None
        while True:
            with self._lock:
                queue, self._queue = self._queue, []
                settle = (
                    self._settle_due
                    or bool(self._retracted)
                    or len(self._answers) >= self._batch_size
                )
                answers: list[Answer] = []
                retracted: list[int] = []
                if settle:
                    answers, self._answers = self._answers, []
                    retracted, self._retracted = self._retracted, []
                    self._settle_due = False
                if not queue and not settle:
                    self._writing = False
                    if self._answers and self._timer is None:
                        self._arm_timer()
                    self._idle.notify_all()
                    return
            if queue:
                self._admit(self._sink, queue)
            if answers or retracted:
                self._settle(self._sink, answers, retracted)

    def _admit(self, sink: WriteAheadSink, queue: list[tuple[CallRecord, Future[int]]]) -> None:
        live = [(r, f) for r, f in queue if f.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            ids = sink.admit([r for r, _ in live])
        except Exception as exc:
            log.error(
                "call ledger: admitting %d call(s) failed, not sent: %s",
                len(live),
                type(exc).__name__,
            )
            for _, future in live:
                future.set_exception(
                    LedgerUnavailable(
                        f"the call ledger could not record the request ({type(exc).__name__}),"
                        " so it was not sent"
                    )
                )
            return
        with self._lock:
            self._total += len(live)
        for (_, future), call_id in zip(live, ids, strict=True):
            future.set_result(call_id)

    def _settle(self, sink: WriteAheadSink, answers: list[Answer], retracted: list[int]) -> None:
        try:
            sink.settle(answers, retracted)
        except Exception as exc:
            log.error(
                "call ledger: writing %d answer(s) failed: %s", len(answers), type(exc).__name__
            )
            with self._lock:
                self._errors.append(exc)


def admission_ahead(max_in_flight: int) -> int:
    """How many requests may be admitted (or admitting) behind the `max_in_flight` sent."""
    return max(1, max_in_flight // 2)


def outstanding_limit(max_in_flight: int) -> int:
    """The most calls a killed process can leave in the ledger beyond the server's count:
    the requests on the wire plus those admitted ahead of them."""
    return max_in_flight + admission_ahead(max_in_flight)
