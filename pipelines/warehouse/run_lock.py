"""One sync of an account's resource at a time, and honest records of runs that died.

A run holds a session-level advisory lock on (account, resource) for its whole length, on
a connection of its own (one for all the resources of one run: `RunLocks`). PostgreSQL
drops the lock when that session ends, however the process ended, so whoever takes the
lock next knows that every `running` row of that account and resource in `ops.sync_runs`
belongs to a run that was killed or crashed, and marks it `abandoned`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

# The first key of the two-key advisory lock: a namespace of this product's run locks
# (the loader's per-table locks use other keys).
RUN_LOCK_NAMESPACE = 7_286_452
_TRY_LOCK = text("SELECT pg_try_advisory_lock(:namespace, hashtext(:key))")
_UNLOCK = text("SELECT pg_advisory_unlock(:namespace, hashtext(:key))")
_ABANDON = text(
    "UPDATE ops.sync_runs SET status = 'abandoned', finished_at = coalesce(finished_at, now()),"
    " error = coalesce(error, 'the process ended before the run finished (killed or crashed)')"
    " WHERE account = :account AND resource = :resource AND status = 'running'"
)


class ResourceBusy(RuntimeError):
    """Another live run is syncing this account's resource."""


class RunLocks:
    """The run locks of one run's resources, held on one connection while any is held.

    A run syncs several resources side by side; each lock on a connection of its own
    cost a database session per resource. The methods block (database calls): an async
    caller runs them in a thread; a lock serialises them on the shared connection.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._held = 0
        self._mutex = threading.Lock()

    def acquire(self, account: str, resource: str) -> int:
        """Take the (account, resource) run lock; returns how many dead runs were marked
        abandoned. Every successful `acquire` needs its `release`.

        Raises:
            ResourceBusy: another session holds the lock (its run is alive).
        """
        key = _key(account, resource)
        with self._mutex:
            if self._conn is None:
                self._conn = self._engine.connect()
            conn = self._conn
            self._held += 1
            try:
                if not conn.execute(_TRY_LOCK, key).scalar_one():
                    raise ResourceBusy(f"another sync of account {account!r} {resource} is running")
                abandoned = conn.execute(_ABANDON, {"account": account, "resource": resource})
                conn.commit()
                return abandoned.rowcount
            except BaseException:
                conn.rollback()
                self._let_go()
                raise

    def release(self, account: str, resource: str) -> None:
        """Give back a lock `acquire` took (the connection closes with the last one)."""
        with self._mutex:
            conn = self._conn
            assert conn is not None, "release() without acquire()"
            try:
                conn.rollback()  # only a failed statement can be pending here: end it
                conn.execute(_UNLOCK, _key(account, resource))
                conn.commit()
            finally:
                self._let_go()

    @contextmanager
    def hold(self, account: str, resource: str) -> Iterator[int]:
        """`acquire` ... `release` around a block; yields what `acquire` returned."""
        abandoned = self.acquire(account, resource)
        try:
            yield abandoned
        finally:
            self.release(account, resource)

    def _let_go(self) -> None:
        self._held -= 1
        if not self._held and self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


def _key(account: str, resource: str) -> dict[str, object]:
    return {"namespace": RUN_LOCK_NAMESPACE, "key": f"{account}/{resource}"}
