"""`ScopeTurns`: the scans of a fan-out's batches take turns, the earliest batch first.

A fan-out resource (objects per cost centre) runs `scope_concurrency` batches side by side,
each committing its scopes in one transaction. With one queue for all of them, every batch
gets the same share of the calls in flight, so they all reach their last scopes, their
final upsert and their commit at the same moment, and for that moment no call is in
flight at all (measured at 100 ms per call: the calls in flight fell from 24 to 0-5 at
each round of batches). Here a free slot goes to the waiting scan of the earliest batch:
batch k scans at full width and finishes first, and while its last scopes run and its rows
are written, the later batches fill the slots it leaves. Within a batch, scans go in the
order they asked.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ScopeTurns:
    """At most `slots` scans at once; a freed slot goes to the lowest batch number waiting."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("ScopeTurns needs at least one slot")
        self._free = slots
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @asynccontextmanager
    async def turn(self, batch: int) -> AsyncIterator[None]:
        """Hold one slot for the body; `batch` orders the waiters (lowest first)."""
        await self._acquire(batch)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, batch: int) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (batch, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # the slot was handed over as the waiter was cancelled
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():
                granted.set_result(None)  # the slot passes on, never counted free
                return
        self._free += 1
