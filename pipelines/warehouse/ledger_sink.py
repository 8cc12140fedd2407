"""Writes the call ledger to `ops.api_calls`, ahead of the requests (`tampuuri.ledger`).

Tampuuri bills every call, failed ones too, so every record is kept. A call's row is
committed before its request is sent (`admit`, no status and no duration yet) and its
answer is filled in later (`settle`), so a process killed at any moment leaves every sent
call counted. Each write is one statement in autocommit, independent of any data
transaction: calls were spent even when the scan that spent them rolls back.

The sink holds one connection of its own, detached from the engine's pool (so a run's
pool budget is unchanged and no pre-ping sits on the request path), opened on first use
and closed by `close()`; a failed write drops it and the next write opens a new one. Its
commits do not wait for the WAL flush (`synchronous_commit = off`, see `_cursor`): what
the ledger must survive is the sync process dying, not the database server.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from psycopg import sql
from sqlalchemy import Engine

from pipelines.tampuuri.ledger import Answer, CallRecord
from pipelines.warehouse.migrations import SQL_DIR

# Ids drawn per round trip to the sequence: one extra statement per this many calls.
ID_BLOCK = 256


@cache
def _statement(name: str) -> sql.SQL:
    return sql.SQL((SQL_DIR / "ledger" / f"{name}.sql").read_text(encoding="utf-8"))


class LedgerSink:
    """A `WriteAheadSink` over ops.api_calls (used by one writer thread at a time).

    Args:
        engine: the warehouse engine the sink's connection is made by.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Any = None  # the sink's own psycopg connection (pool-detached)
        self._ids: list[int] = []

    def admit(self, records: Sequence[CallRecord]) -> list[int]:
        """Commit rows for calls about to be sent; their call ids, in order."""
        if not records:
            return []
        with self._cursor() as cursor:
            if len(self._ids) < len(records):
                cursor.execute(_statement("reserve_ids"), {"count": max(ID_BLOCK, len(records))})
                self._ids.extend(row[0] for row in cursor.fetchall())
            ids, self._ids = self._ids[: len(records)], self._ids[len(records) :]
            cursor.execute(
                _statement("admit"),
                {
                    "call_ids": ids,
                    "accounts": [r.account for r in records],
                    "sent_at": [r.sent_at for r in records],
                    "methods": [r.method for r in records],
                    "routes": [r.route for r in records],
                    "triggers": [r.trigger for r in records],
                    "run_ids": [r.run_id for r in records],
                },
            )
        return ids

    def settle(self, answers: Sequence[Answer], retracted: Sequence[int] = ()) -> None:
        """Fill in answers (whole milliseconds) and delete the rows of calls never sent."""
        if not answers and not retracted:
            return
        with self._cursor() as cursor:
            cursor.execute(
                _statement("settle"),
                {
                    "call_ids": [a.call_id for a in answers],
                    "statuses": [a.status for a in answers],
                    "durations": [round(a.duration_ms) for a in answers],
                    "retracted": list(retracted),
                },
            )

    def close(self) -> None:
        """Close the sink's connection (a later write opens a new one)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor on the sink's connection; a failure closes the connection."""
        if self._connection is None:
            pooled = self._engine.raw_connection()
            driver: Any = pooled.driver_connection
            pooled.detach()  # the sink's own: outside the pool's count and its events
            driver.rollback()  # the pre-ping may have begun a transaction
            driver.autocommit = True  # one statement, one commit, one round trip
            # Committed rows are visible at once and outlive this process however it ends;
            # only a crash of the database server itself could lose the last ~0.6 s of
            # them (and any later synchronous commit, e.g. a sync's data, flushes them).
            # Waiting for the WAL flush per admission tripled its cost (1.5 vs 0.4 ms).
            driver.execute("SET synchronous_commit = off")
            self._connection = driver
        try:
            with self._connection.cursor() as cursor:
                yield cursor
        except BaseException:
            self.close()
            raise
