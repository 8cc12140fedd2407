"""A link list and the parties nested in it load in ONE transaction with the scan state.

The parties' load shares the links' connection and transaction (load_sessions.LoadSession).
A failure in either rolls both back: no link and no party of the failed scan is written,
the list's scan state does not move, and the next run converges to parity. (An error that
is not the API's propagates out of the run, as a lost warehouse does.)
"""

from __future__ import annotations

from unittest import mock

import pytest
from sqlalchemy import text

from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.warehouse import loader
from pipelines.warehouse.loader import ScopeLoad
from tests.sync.helpers import assert_parity
from tests.sync.test_sync_e2e import sync

ACCOUNT = "demo-a"


@pytest.fixture
def sim() -> Simulator:
    # Enough links for several pages, so the failure comes after some were staged.
    return Simulator(SimulatorConfig(seed=11, scale=3000, accounts=(ACCOUNT,)))


def stored(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(f"SELECT count(*) FROM tampuuri.{table} WHERE account = :a"), {"a": ACCOUNT}
        ).scalar_one()


def link_list_state(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT resource, last_full_scan_at FROM ops.sync_state"
                " WHERE account = :a AND resource IN ('osapuolet', 'osapuoli_yhteydet')"
            ),
            {"a": ACCOUNT},
        ).all()


@pytest.mark.parametrize("failing_table", ["osapuolet", "osapuoli_yhteydet"])
def test_a_failure_in_either_load_rolls_back_links_and_parties(engine, sim, failing_table):
    stage = ScopeLoad.stage
    staged_pages = {"n": 0}

    def failing_stage(self, items):
        if self.spec.name == failing_table:
            staged_pages["n"] += 1
            if staged_pages["n"] == 2:  # after a first page of both went in
                raise RuntimeError(f"injected: {failing_table} staging failed")
        return stage(self, items)

    with (
        mock.patch.object(loader, "STREAM_ROWS", 100),  # rows reach the tables before it
        mock.patch.object(ScopeLoad, "stage", failing_stage),
        pytest.raises(RuntimeError, match=f"injected: {failing_table}"),
    ):
        sync(engine, sim, ACCOUNT, full=True, resources=("osapuolet",))
    assert staged_pages["n"] == 2
    assert stored(engine, "osapuoli_yhteydet") == 0
    assert stored(engine, "osapuolet") == 0
    assert link_list_state(engine) == []

    report = sync(engine, sim, ACCOUNT, full=True)
    assert report.ok, [r.error for r in report.resources]
    assert stored(engine, "osapuoli_yhteydet") == len(sim.items(ACCOUNT, "osapuoli_yhteydet"))
    assert_parity(engine, sim, ACCOUNT)


def test_links_parties_and_the_scan_state_commit_in_one_transaction(engine, sim):
    report = sync(engine, sim, ACCOUNT, full=True, resources=("osapuolet",))
    assert report.ok, [r.error for r in report.resources]
    sources = {
        table: f"SELECT DISTINCT xmin::text FROM {table} WHERE account = :a"
        for table in (
            "tampuuri.osapuoli_yhteydet",
            "tampuuri.osapuoli_yhteydet_history",
            "tampuuri.osapuolet",
            "tampuuri.osapuolet_history",
        )
    }
    sources["ops.sync_state"] = (
        "SELECT DISTINCT xmin::text FROM ops.sync_state"
        " WHERE account = :a AND resource IN ('osapuolet', 'osapuoli_yhteydet')"
    )
    with engine.connect() as conn:
        writers = {
            table: set(conn.execute(text(query), {"a": ACCOUNT}).scalars())
            for table, query in sources.items()
        }
    assert all(writers.values()), writers  # every table was written ...
    assert len(set().union(*writers.values())) == 1, writers  # ... by one transaction
    assert stored(engine, "osapuoli_yhteydet") == len(sim.items(ACCOUNT, "osapuoli_yhteydet"))
