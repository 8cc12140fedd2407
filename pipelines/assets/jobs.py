"""The nightly job and its schedule: one run per account, at most one at a time each.

Each run carries the tag `tampuuri/account` (and Dagster's own `dagster/partition`); the
run queue in `config/dagster.yaml` limits both to one run per value, so two syncs of one
account never overlap. `dagster/max_runtime` is the run timeout that run monitoring
enforces.
"""

from collections.abc import Iterator

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from pipelines.assets.budget import ASSET as BUDGET_ASSET
from pipelines.assets.budget import GROUP as BUDGET_GROUP
from pipelines.assets.partitions import AccountPartitions, per_account_requests
from pipelines.assets.settings import DagsterSettings
from pipelines.assets.tampuuri import ACCOUNT_TAG, GROUP, TRIGGER_TAG

NIGHTLY_JOB = "nightly_sync"
NIGHTLY_SCHEDULE = "nightly_sync_schedule"


def nightly_job(
    partitions: AccountPartitions, settings: DagsterSettings
) -> UnresolvedAssetJobDefinition:
    """Every sync asset (and its checks) for one account partition, then the budget."""
    return dg.define_asset_job(
        NIGHTLY_JOB,
        # The sync assets, then the account's call budget report (it reads their ledger).
        selection=dg.AssetSelection.groups(GROUP, BUDGET_GROUP),
        partitions_def=partitions.definition,
        tags={"dagster/max_runtime": str(settings.max_runtime_s)},
        description="Incremental sync of every resource of one account, then the checks.",
    )


def nightly_schedule(
    job: UnresolvedAssetJobDefinition,
    partitions: AccountPartitions,
    settings: DagsterSettings,
) -> dg.ScheduleDefinition:
    """One run request per account that polls (no webhooks), at `nightly_cron` in `timezone`."""

    @dg.schedule(
        name=NIGHTLY_SCHEDULE,
        job=job,
        cron_schedule=settings.nightly_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def schedule(
        context: dg.ScheduleEvaluationContext,
    ) -> Iterator[dg.RunRequest | dg.SkipReason]:
        yield from per_account_requests(
            partitions,
            context,
            lambda account, stamp: dg.RunRequest(
                run_key=f"nightly-{account}-{stamp}",
                partition_key=account,
                tags={ACCOUNT_TAG: account, TRIGGER_TAG: "nightly"},
                # An account that does not opt in to every asset syncs (and checks) its
                # own; the others run the whole job.
                asset_selection=None
                if partitions.syncs_all(account)
                else [
                    *(dg.AssetKey(a) for a in partitions.synced[account]),
                    dg.AssetKey(BUDGET_ASSET),
                ],
            ),
            polling_only=True,
        )

    return schedule
