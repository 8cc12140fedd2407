"""In Dagster, each account's sync asset shows the account's profile in force, its
adjustment and the cycle's forecast: two accounts on different profiles, materialised
against the simulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.assets.budget import budget_asset
from pipelines.assets.tampuuri import tampuuri_assets
from pipelines.profiles.adapt import adapt_accounts
from pipelines.resources import TampuuriResource, WarehouseResource

from .deployment import FRUGAL, OVER, REALTIME, Deployment


def _materialise(deployment: Deployment, account: str) -> dict[str, object]:
    partitions = dg.StaticPartitionsDefinition([REALTIME, FRUGAL])
    [asset] = [a for a in tampuuri_assets(partitions) if a.key.path == ["kustannuspaikat"]]
    result = dg.materialize(
        [asset],
        partition_key=account,
        resources={
            "warehouse": WarehouseResource(database_url=deployment.warehouse_url),
            "tampuuri": TampuuriResource(transport=deployment.transport),
        },
    )
    assert result.success
    [event] = result.asset_materializations_for_node("kustannuspaikat")
    return {k: v.value for k, v in event.metadata.items()}


def test_each_accounts_asset_shows_its_profile_adjustment_and_forecast(
    deployment: Deployment, tmp_path, monkeypatch
):
    deployment.write_accounts(tmp_path, monkeypatch)
    now = datetime.now(UTC)
    deployment.spend(REALTIME, OVER, now - timedelta(minutes=1))
    [applied] = adapt_accounts(deployment.engine, [deployment.accounts[REALTIME]], now=now).values()

    loosened = _materialise(deployment, REALTIME)
    assert loosened["profile"].startswith("default: webhook changes within 225 s;")
    assert loosened["profile_adjustment"].startswith("loosened, level 1 of 4 since ")
    assert loosened["profile_adjustment"].endswith(applied.reason)
    forecast, of = loosened["forecast_this_cycle"].split(" of ")
    assert int(forecast.replace(",", "")) > 2_000 and of == "2,000 calls"

    frugal = _materialise(deployment, FRUGAL)
    assert frugal["profile"] == (
        "frugal: webhook changes within 3,600 s; lists probed every kustannuspaikat 1 d,"
        " osapuolet 1 d, ilmoitukset 1 d; objects re-scanned within 30 d; links re-read"
        " every 30 d; on drift wait; 60% kept for webhooks"
    )
    assert frugal["profile_adjustment"].startswith("as written (forecast ")
    assert frugal["calls_this_month"].endswith(" this cycle")  # budget's own line stays


def test_the_call_budget_asset_shows_the_profile_beside_the_forecast(
    deployment: Deployment, tmp_path, monkeypatch
):
    deployment.write_accounts(tmp_path, monkeypatch)
    partitions = dg.StaticPartitionsDefinition([REALTIME, FRUGAL])
    result = dg.materialize(
        [budget_asset(partitions)],
        partition_key=FRUGAL,
        resources={
            "warehouse": WarehouseResource(database_url=deployment.warehouse_url),
            "tampuuri": TampuuriResource(transport=deployment.transport),
        },
    )
    assert result.success
    [event] = result.asset_materializations_for_node("call_budget")
    assert event.metadata["profile"].value.startswith("frugal: webhook changes within 3,600 s;")
    assert event.metadata["profile_adjustment"].value.startswith("as written (forecast ")
