"""The Dagster code location: `dagster dev -m pipelines.definitions`.

Built when Dagster loads the location (not at import): the account partitions come from
the accounts file or TAMPUURI_* variables; secrets are read only inside runs.
"""

import dagster as dg

from pipelines.assets.budget import budget_asset
from pipelines.assets.checks import tampuuri_checks
from pipelines.assets.jobs import nightly_job, nightly_schedule
from pipelines.assets.partitions import account_partitions
from pipelines.assets.settings import load_dagster_settings
from pipelines.assets.tampuuri import tampuuri_assets
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sensors.reconcile import reconcile_job, reconcile_schedule
from pipelines.sensors.webhook_inbox import (
    build_webhook_inbox_sensor,
    configured_accounts,
    webhook_refresh_job,
)


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_dagster_settings()
    accounts = account_partitions()
    job = nightly_job(accounts, settings)
    return dg.Definitions(
        assets=[
            *tampuuri_assets(accounts.definition, settings, accounts.assets),
            budget_asset(accounts.definition, accounts.assets),
        ],
        asset_checks=tampuuri_checks(settings, accounts.assets),
        jobs=[job, webhook_refresh_job, reconcile_job],
        schedules=[
            nightly_schedule(job, accounts, settings),
            reconcile_schedule(accounts, settings),
        ],
        sensors=[
            build_webhook_inbox_sensor(
                interval_s=settings.webhook_interval_s,
                window_s=settings.webhook_window_s,
                accounts=configured_accounts,
            )
        ],
        resources={"warehouse": WarehouseResource(), "tampuuri": TampuuriResource()},
    )
