"""The warehouse side of a batch of scope scans: one transaction, staged pages.

`LoadSession` opens one connection and transaction for everything a batch loads (the
main table, and each table of rows nested in its items), committed together with the scan
state; `PageStager` feeds its loads the pages in order, joining the pages that wait while
the connection is busy into one COPY. `scope_scan.run_scope_batch` drives both.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TypeVar, cast

from sqlalchemy import Connection, Engine

from pipelines.warehouse.encoding import EncodedPage, join_pages
from pipelines.warehouse.loader import Scope, ScopeLoad

# API pages a batch may have encoded and not yet staged (each ~250 rows, ~230 KB encoded
# for a link page with its parties). A link list's connection is the busiest: 16 pages of
# slack let its scan fetch ahead while a flush runs (interleaved runs, 8 -> 16: 100k
# 2.55 -> 2.44 s, 1M 24.0 -> 22.5 s; peak memory +6 MB).
MAX_QUEUED_PAGES = 16
T = TypeVar("T")


class LoadSession:
    """One connection and ONE transaction for a batch's loads: the main table's and those
    of the rows nested in its items (a link list's parties), with the scope state.

    Everything a batch writes commits at once or not at all: a failure anywhere leaves
    links, parties and the scan state as they were, and the next run scans again.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self.lock = asyncio.Lock()  # held while a statement runs on the connection

    async def open_loads(
        self,
        table: str,
        *,
        scope: Scope,
        nested: Sequence[str],
        account: str,
        run_id: str,
        disjoint: bool,
    ) -> dict[str, ScopeLoad]:
        """The main table's load and one per nested table, in the one transaction."""
        conn: Connection = await asyncio.to_thread(self._engine.connect)
        self._conn = conn

        def begin() -> dict[str, ScopeLoad]:
            conn.begin()
            # A commit lost in a crash only means a rerun: the cursors commit with their
            # rows, so the warehouse still converges. Not waiting for the WAL flush saves
            # each batch's commit.
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            # Batches of one fan-out scan (cost centres) hold disjoint rows of the main
            # table. Every other load is the only one of its table here: on a first load
            # it streams (writes pages as they arrive, see ScopeLoad).
            loads = {
                table: ScopeLoad(
                    conn,
                    table,
                    account=account,
                    run_id=run_id,
                    scope=scope,
                    disjoint=disjoint,
                    stream=not disjoint,
                )
            }
            for name in nested:
                loads[name] = ScopeLoad(conn, name, account=account, run_id=run_id, stream=True)
            return loads

        return await asyncio.to_thread(begin)

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("open_loads() first")
        return self._conn

    async def run(self, work: Callable[[], T]) -> T:
        """`work` (blocking database calls) in a thread, alone on the connection."""
        async with self.lock:
            return await asyncio.to_thread(work)

    async def commit(self) -> None:
        await self.run(self.connection.commit)

    async def rollback(self) -> None:
        if self._conn is not None:
            await asyncio.to_thread(self._conn.rollback)

    async def close(self) -> None:
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)


class PageStager:
    """Stages a batch's pages in order while its scans fetch and encode the next ones.

    While a table's connection is busy with a COPY, the pages encoded meanwhile queue up
    and go in one COPY together: the fewer, larger statements keep the backend busy
    instead of waiting for Python page by page. At most `MAX_QUEUED_PAGES` pages wait
    (memory stays bounded); a scan that finds the queue full waits only until the worker
    takes the queue for its next COPY, so fetching and encoding go on while the database
    works (waiting for the queue to empty entirely left both sides idle in turns: the
    sync's event loop was idle 40 % of a 1M-row run). `drain` waits for everything staged
    (and raises the first error, if any). A page's rows for different tables (links
    and their parties) go in one after the other, one COPY per table.
    """

    def __init__(self, loads: Mapping[str, ScopeLoad], session: LoadSession) -> None:
        self._loads = loads
        self._session = session
        self._queue: list[EncodedPage] = []
        self._queued = 0  # API pages in the queue
        self._worker: asyncio.Task[None] | None = None
        self._room = asyncio.Event()  # set when the worker takes the queue, or stops

    async def stage(self, pages: Sequence[EncodedPage]) -> None:
        while self._queued >= MAX_QUEUED_PAGES and self._worker and not self._worker.done():
            self._room.clear()
            await self._room.wait()
        if self._worker and self._worker.done():
            await self.drain()  # raises what the finished worker raised
        self._queue.extend(pages)
        self._queued += 1
        if self._worker is None:
            self._worker = asyncio.create_task(self._run())

    async def drain(self) -> None:
        """Wait until everything queued is staged (several scans may wait at once)."""
        while (worker := self._worker) is not None:
            try:
                await asyncio.shield(worker)  # a cancelled waiter leaves the worker be
            finally:
                if self._worker is worker and worker.done():
                    self._worker = None

    async def _run(self) -> None:
        try:
            while self._queue:
                batch, self._queue, self._queued = self._queue, [], 0
                self._room.set()
                tables = dict.fromkeys(page.table for page in batch)
                joined = [join_pages([p for p in batch if p.table == t]) for t in tables]
                await self._session.run(functools.partial(self._stage, joined))
        finally:
            self._room.set()  # scans waiting for room see the worker stopped

    def _stage(self, pages: Sequence[EncodedPage]) -> None:
        for page in pages:
            self._loads[page.table].stage(page)


async def all_settled(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Await them all side by side; then raise the first error, if any, else the results.

    Unlike a plain gather, nothing is left running on a connection when the error reaches
    the caller, who then rolls that connection back.
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[T], results)
