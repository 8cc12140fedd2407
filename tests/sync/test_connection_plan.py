"""A run fits the warehouse engine's connection pool: side by side when the pool allows it,
one resource at a time when it does not, and a clear error before any call when not even
that fits (a pool too small used to make the run wait on itself until the pool timed out).
"""

from __future__ import annotations

import itertools
import time

import httpx
import pytest
from sqlalchemy import NullPool, create_engine, text

from pipelines.settings import ConfigError
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.sync.connection_plan import fit_to_pool, one_at_a_time, peak_connections
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.scans import ASSET_RESOURCES
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.warehouse.engine import make_engine, pool_capacity, to_sqlalchemy_url
from tests.sync.helpers import account_for, assert_parity, run_times

CATALOGUE = load_catalogue()
# The schedule of a whole-account run: objects after the cost centres, the rest beside them.
SIDE_BY_SIDE = {
    "kustannuspaikat": (),
    "kohteet": ("kustannuspaikat",),
    "osapuolet": (),
    "ilmoitukset": (),
}


@pytest.mark.parametrize(
    ("scope_concurrency", "side_by_side", "serial"), [(1, 5, 3), (2, 6, 3), (4, 8, 5)]
)
def test_peak_connections_of_both_schedules(scope_concurrency, side_by_side, serial):
    # run locks 1; cost centres 1 or objects 1 per batch (never both); links + parties 2;
    # notices 1. One at a time: run locks + the largest.
    def peak(prerequisites):
        return peak_connections(prerequisites, CATALOGUE, scope_concurrency=scope_concurrency)

    assert peak(SIDE_BY_SIDE) == side_by_side
    assert peak(one_at_a_time(list(SIDE_BY_SIDE))) == serial


def test_the_schedule_follows_the_pool():
    def fit(capacity):
        return fit_to_pool(SIDE_BY_SIDE, CATALOGUE, capacity=capacity, scope_concurrency=2)

    assert fit(None) == SIDE_BY_SIDE
    assert fit(6) == SIDE_BY_SIDE
    assert fit(5) == one_at_a_time(list(ASSET_RESOURCES))
    assert fit(3) == one_at_a_time(list(ASSET_RESOURCES))
    with pytest.raises(ConfigError, match=r"allows 2 connection\(s\).*at least 3, or 6"):
        fit(2)


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


def test_a_small_pool_runs_the_resources_one_at_a_time(warehouse_url):
    sim = Simulator(SimulatorConfig(seed=5, scale=900, accounts=("demo-a",)))
    account, environ = account_for(sim, "demo-a")
    engine = _small_engine(warehouse_url, 2)  # 4 connections: side by side needs 6
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
        runs = run_times(engine, report.run_id)
        assert [resource for resource, _, _ in runs] == list(ASSET_RESOURCES)
        assert all(later[1] >= earlier[2] for earlier, later in itertools.pairwise(runs))
    finally:
        engine.dispose()


def test_a_pool_too_small_for_one_resource_fails_before_any_call(warehouse_url):
    sim = Simulator(SimulatorConfig(seed=5, scale=300, accounts=("demo-a",)))
    account, environ = account_for(sim, "demo-a")
    engine = _small_engine(warehouse_url, 1)  # 2 connections: one at a time needs 3
    try:
        with pytest.raises(ConfigError, match="allows 2 connection"):
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
