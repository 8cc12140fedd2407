"""The warehouse side of a batch of scope scans: a connection per table, staged pages.

`LoadSessions` opens one connection and transaction per table a batch loads (the main
table, and each table of rows nested in its items), so their loads run on PostgreSQL
backends side by side; `PageStager` feeds them the pages in order, joining the pages that
wait while a connection is busy into one COPY. `scope_scan.run_scope_batch` drives both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping, Sequence
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


class LoadSessions:
    """One connection and transaction per table a batch loads: the loads work side by side.

    A link list carries its parties: the links' and the parties' loads (each a COPY per
    page, then set-based writes) would take turns on one PostgreSQL backend; on two they
    overlap. At commit the nested tables' transactions commit first and the main table's,
    which holds the scope state, last: a failure between the two leaves the nested rows
    written (rows as the API served them, deletions that were confirmed) and the scope not
    marked scanned, so the next run scans it again. The warehouse is then as it was, or
    better, and never marked complete without its rows.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connections: dict[str, Connection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._main: str | None = None

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
        """The main table's load and one per nested table, each on its own connection."""
        self._main = table
        # Batches of one fan-out scan (cost centres) hold disjoint rows of the main table.
        # Every other load is the only one of its table here: on a first load it streams
        # (writes pages as they arrive, see ScopeLoad).
        loads = {table: await self._load(table, account, run_id, scope=scope, disjoint=disjoint)}
        for name in nested:
            loads[name] = await self._load(name, account, run_id)
        return loads

    async def _load(
        self,
        table: str,
        account: str,
        run_id: str,
        *,
        scope: Scope | None = None,
        disjoint: bool = False,
    ) -> ScopeLoad:
        conn: Connection = await asyncio.to_thread(self._engine.connect)
        self._connections[table] = conn
        self._locks[table] = asyncio.Lock()

        def begin() -> ScopeLoad:
            conn.begin()
            # A commit lost in a crash only means a rerun: the cursors commit with their
            # rows, so the warehouse still converges. Not waiting for the WAL flush saves
            # each load's commit.
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            return ScopeLoad(
                conn,
                table,
                account=account,
                run_id=run_id,
                scope=scope or Scope(None),
                disjoint=disjoint,
                stream=not disjoint,
            )

        return await asyncio.to_thread(begin)

    def connection(self, table: str) -> Connection:
        return self._connections[table]

    def lock(self, table: str) -> asyncio.Lock:
        """Held while a page is staged on the table's connection (one page at a time)."""
        return self._locks[table]

    async def commit(self) -> None:
        """Commit the nested tables' transactions, then the main table's (see above)."""
        for table, conn in self._connections.items():
            if table != self._main:
                await asyncio.to_thread(conn.commit)
        if self._main is not None:
            await asyncio.to_thread(self._connections[self._main].commit)

    async def rollback(self) -> None:
        for conn in self._connections.values():
            await asyncio.to_thread(conn.rollback)

    async def close(self) -> None:
        for conn in self._connections.values():
            await asyncio.to_thread(conn.close)


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
    and their parties) are staged side by side, each on its table's connection.
    """

    def __init__(self, loads: Mapping[str, ScopeLoad], sessions: LoadSessions) -> None:
        self._loads = loads
        self._sessions = sessions
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
                await all_settled(
                    self._stage(join_pages([p for p in batch if p.table == table]))
                    for table in tables
                )
        finally:
            self._room.set()  # scans waiting for room see the worker stopped

    async def _stage(self, page: EncodedPage) -> None:
        async with self._sessions.lock(page.table):
            await asyncio.to_thread(self._loads[page.table].stage, page)


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
