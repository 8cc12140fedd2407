"""The call budget in Dagster: `call_budget` carries the transaction report's figures and
chart, and its check warns at 80 % of the package projected and fails at 100 %."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from pipelines import definitions
from pipelines.budget.packages import BillingCycle
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.simulator import Simulator, SimulatorConfig
from tests.dagster.sim_accounts import ACCOUNTS, write_accounts


@pytest.fixture
def defs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    sim = Simulator(SimulatorConfig(seed=3, scale=100, accounts=ACCOUNTS))
    write_accounts(sim, "http://sim/v10/api/", tmp_path, monkeypatch)  # Normal: 40,000 calls
    return definitions.defs()


def _ledger(engine: Engine, calls: int) -> None:
    """`calls` calls spread evenly from the cycle's start to now (a steady pace)."""
    now = datetime.now(UTC)
    start = BillingCycle.containing(now).start
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.api_calls (account, sent_at, method, route, status,"
                " duration_ms, trigger)"
                " SELECT 'demo-a', :start + (:now - :start) * (i::float / :n), 'GET',"
                " 'kustannuspaikat/selaa', CASE WHEN i % 50 = 0 THEN 503 ELSE 200 END, 5,"
                " 'nightly' FROM generate_series(1, :n) AS i"
            ),
            {"start": start, "now": now, "n": calls},
        )


def _budget(defs: dg.Definitions, warehouse_url: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection="call_budget",
        partition_key="demo-a",
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
            "tampuuri": TampuuriResource(),
        },
    )


@pytest.mark.parametrize(
    ("share", "passed", "severity", "level"),
    [
        (0.5, True, dg.AssetCheckSeverity.WARN, "ok"),
        (0.85, False, dg.AssetCheckSeverity.WARN, "warn"),
        (1.2, False, dg.AssetCheckSeverity.ERROR, "over"),
    ],
)
def test_budget_check_levels(defs, engine, warehouse_url, share, passed, severity, level):
    now = datetime.now(UTC)
    cycle = BillingCycle.containing(now)
    # Spend so that the linear projection lands at `share` of the 40,000 included calls.
    fraction = max(cycle.elapsed(now) / cycle.length, 1 / cycle.days)
    calls = int(40_000 * share * fraction)
    if calls < 10:
        pytest.skip("too early in the billing cycle for a steady-pace ledger")
    _ledger(engine, calls)
    result = _budget(defs, warehouse_url)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed is passed
    assert evaluation.severity == severity
    assert evaluation.description.startswith(f"demo-a: {calls:,} calls used")
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["used_calls"].value == calls
    assert metadata["failed_calls"].value == calls // 50
    assert metadata["level"].value == level
