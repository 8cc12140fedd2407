"""A run fits the warehouse engine's connection pool, or fails before its first call.

A run holds one connection for its run locks, one per scan batch in flight (links and
their parties share one: one transaction) and one for short writes beside them. With
the database calls off the event loop, a pool that large runs the resources side by
side without waiting; a pool that holds fewer fan-out batches than scope_concurrency
asks runs fewer at once (logged, the same calls); one that cannot hold even one is a
clear error naming both numbers, before any call is made or any run row written (it
used to make the run wait on itself until the pool timed out).
"""

from __future__ import annotations

import dataclasses
import logging
import time

import httpx
import pytest
from sqlalchemy import NullPool, create_engine, text

from pipelines.settings import ConfigError, load_sync_settings
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


@pytest.mark.parametrize("scope_concurrency", [2, 4])
def test_a_pool_of_what_the_run_needs_runs_side_by_side(warehouse_url, caplog, scope_concurrency):
    # Run locks 1 + objects 2 batches (cost centres before them) + links 1 + notices 1 +
    # a short write 1 = 6: exactly the pool at scope_concurrency 2; at 4 (8 needed) the
    # run lowers it to the 2 batches the pool holds.
    settings = dataclasses.replace(load_sync_settings(), scope_concurrency=scope_concurrency)
    sim = Simulator(SimulatorConfig(seed=5, scale=900, accounts=("demo-a",)))
    account, environ = account_for(sim, "demo-a")
    engine = _small_engine(warehouse_url, 3)
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="pipelines.sync.engine"):
            report = run_sync(
                engine,
                SyncRequest(account, full=True),
                settings=settings,
                transport=httpx.ASGITransport(app=sim.app),
                environ=environ,
            )
        lowered = [r.getMessage() for r in caplog.records if "lowered" in r.getMessage()]
        if scope_concurrency == 2:
            assert lowered == []
        else:
            assert lowered == [
                "account demo-a: scope_concurrency 4 lowered to 2 for this run: the"
                " warehouse pool allows 6 connections"
            ]
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
        needs = "needs 5 even with one fan-out batch"
        with pytest.raises(ConfigError, match=rf"allows {2 * size} connection.*{needs}"):
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
