"""What the call ledger stores and where: the record of a call, its answer, the sink.

`CallRecord` is one billed call; `WriteAheadSink` is the durable storage the ledger admits
records to before their requests leave (`warehouse.ledger_sink.LedgerSink`) and settles
answers in; `AnsweredRecords` adapts a plain callable (in-memory sinks) to it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable


@dataclass(frozen=True)
class CallRecord:
    """One request sent to the API (one billed call).

    Attributes:
        account: The account label the call was made for.
        sent_at: When the request was admitted for sending (aware, UTC).
        method: HTTP method.
        route: Route template, e.g. "kohteet/{kohde_id}/selaa".
        status: HTTP status, or None when no response came (timeout, connection error)
            or none is known yet.
        duration_ms: Time until the response headers (or the failure); None while the
            call has no answer.
        trigger: What started the work: nightly, manual, webhook, reconcile, probe, ...
        run_id: The sync run, when there is one.
    """

    account: str
    sent_at: datetime
    method: str
    route: str
    status: int | None
    duration_ms: int | None
    trigger: str
    run_id: str | None


class Answer(NamedTuple):
    """What came back for an admitted call (status None: no response)."""

    call_id: int
    status: int | None
    duration_ms: int


@runtime_checkable
class WriteAheadSink(Protocol):
    """Durable storage of the ledger (`warehouse.ledger_sink.LedgerSink`). The ledger
    calls it from one writer thread at a time."""

    def admit(self, records: Sequence[CallRecord]) -> Sequence[int]:
        """Store records of calls about to be sent, durably; return their ids in order."""

    def settle(self, answers: Sequence[Answer], retracted: Sequence[int]) -> None:
        """Store answers of admitted calls; delete the records of calls never sent."""

    def close(self) -> None:
        """Release what the sink holds (it may be used again afterwards)."""


Sink = Callable[[Sequence[CallRecord]], None]


class AnsweredRecords:
    """A `WriteAheadSink` over a plain callable that gets each record once it is answered
    (in-memory sinks: tests, tools). Nothing is durable before the answer."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._ids = itertools.count(1)
        self._sent: dict[int, CallRecord] = {}

    def admit(self, records: Sequence[CallRecord]) -> list[int]:
        ids = [next(self._ids) for _ in records]
        self._sent.update(zip(ids, records, strict=True))
        return ids

    def settle(self, answers: Sequence[Answer], retracted: Sequence[int]) -> None:
        for call_id in retracted:
            self._sent.pop(call_id, None)
        done = [
            replace(self._sent.pop(a.call_id), status=a.status, duration_ms=a.duration_ms)
            for a in answers
        ]
        if done:
            self._sink(done)

    def close(self) -> None:
        pass
