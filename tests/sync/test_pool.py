"""A run fits the warehouse engine's connection pool, or fails before its first call.

A run holds one connection for its run locks, one per scan batch in flight (links and
their parties share one: one transaction) and one for short writes beside them. With
the database calls off the event loop, a pool that large runs the resources side by
side without waiting; a smaller one is a clear error naming both numbers, before any
call is made or any run row written (it used to make the run wait on itself until the
pool timed out).
"""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import NullPool, create_engine, text

from pipelines.settings import ConfigError
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.warehouse.engine import make_engine, pool_capacity, to_sqlalchemy_url
from tests.sync.helpers import account_for, assert_parity, run_times


def test_pool_capacity_is_size_plus_overflow_and_none_without_a_limit(warehouse_url):
    small = make_engine(warehouse_url, pool_size=2)  # (max_overflow = pool_size)
    unlimited = create_engine(to_sqlalchemy_url(warehouse_url), poolclass=NullPool)
    no_overflow_limit = create_engine(to_sqlalchemy_url(warehouse_url), max_overflow=-1)
    assert [pool_capacity(e) for e in (small, unlimited, no_overflow_limit)] == [4, None, None]


def _small_engine(warehouse_url: str, size: int):
    # A short pool timeout: a run that waited on itself would fail in seconds, not 30.
    return create_engine(
        to_sqlalchemy_url(warehouse_url), pool_size=size, max_overflow=size, pool_timeout=3
    )


def test_a_pool_of_exactly_what_the_run_needs_runs_side_by_side(warehouse_url):
    # Run locks 1 + objects 2 batches (scope_concurrency 2; cost centres before them) +
    # links 1 + notices 1 + a short write 1 = 6.
    sim = Simulator(SimulatorConfig(seed=5, scale=900, accounts=("demo-a",)))
    account, environ = account_for(sim, "demo-a")
    engine = _small_engine(warehouse_url, 3)
    try:
        started = time.monotonic()
        report = run_sync(
            engine,
            SyncRequest(account, full=True),
            transport=httpx.ASGITransport(app=sim.app),
            environ=environ,
        )
        assert report.ok, [r.error for r in report.resources]
        assert time.monotonic() - started < 3  # no wait for a connection that never frees
        assert_parity(engine, sim, "demo-a")
        runs = {resource: (start, end) for resource, start, end in run_times(engine, report.run_id)}
        # The links ran beside the cost centres (they wait for nothing).
        assert runs["osapuolet"][0] < runs["kustannuspaikat"][1]
    finally:
        engine.dispose()


@pytest.mark.parametrize("size", [1, 2])
def test_a_pool_too_small_fails_before_any_call(warehouse_url, size):
    sim = Simulator(SimulatorConfig(seed=5, scale=300, accounts=("demo-a",)))
    account, environ = account_for(sim, "demo-a")
    engine = _small_engine(warehouse_url, size)
    try:
        with pytest.raises(ConfigError, match=rf"allows {2 * size} connection.*needs 6"):
            run_sync(
                engine,
                SyncRequest(account, full=True),
                transport=httpx.ASGITransport(app=sim.app),
                environ=environ,
            )
        assert sum(row["count"] for row in sim.transactions()) == 0
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM ops.sync_runs")).scalar_one() == 0
    finally:
        engine.dispose()
