"""The reconciliation sweep in Dagster: one run per account each night after the sync.

What webhooks missed (a bundle given up after 5 failed deliveries, changes that fire no
webhook) is found by `pipelines.sync.reconcile.reconcile_account`: a `Limit=1` probe per
account-wide list, change-since incrementals, and a budget-shaped share of the stalest
cost centres' objects. It runs under the budget priority "reconcile".
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from pipelines.assets.account_pool import account_pools
from pipelines.assets.partitions import AccountPartitions, per_account_requests
from pipelines.assets.settings import DagsterSettings
from pipelines.assets.tampuuri import ACCOUNT_TAG, TRIGGER_TAG
from pipelines.declarations import load_declarations
from pipelines.profiles.adapt import adapt_accounts, loosened_account
from pipelines.profiles.describe import profile_metadata
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sync.reconcile import ReconcileReport, reconcile_account

RECONCILE_JOB = "reconcile_sweep"
RECONCILE_SCHEDULE = "reconcile_sweep_schedule"


class ReconcileConfig(dg.Config):
    """Which account to sweep (the schedule sets it; the launchpad shows it)."""

    account: str
    # Calls the sweep may spend on object scopes beyond the coverage floor.
    object_allowance: int = 0


@dg.op(description="Probe for drift, then re-scan only what drifted and the stalest objects.")
def reconcile(
    context: dg.OpExecutionContext,
    config: ReconcileConfig,
    warehouse: WarehouseResource,
    tampuuri: TampuuriResource,
) -> dg.Output[int]:
    account = tampuuri.account(config.account)
    # The profile, loosened while the forecast is over the package: stretched cadences.
    [applied] = adapt_accounts(
        warehouse.engine, [account], now=datetime.now(UTC), log=context.log.info
    ).values()
    with account_pools(context, [account.name]):
        report = reconcile_account(
            warehouse.engine,
            loosened_account(account, applied.loosening),
            transport=tampuuri.transport,
            allowance=config.object_allowance,
            run_id=context.run_id,
        )
    metadata: dict[str, dg.MetadataValue] = {
        **{k: dg.MetadataValue.text(v) for k, v in profile_metadata(applied).items()},
        "calls": dg.MetadataValue.int(report.calls),
        "drifted": dg.MetadataValue.text(", ".join(report.drifted) or "none"),
        "drift_deferred": dg.MetadataValue.text(", ".join(report.deferred) or "none"),
        "budget_guard": dg.MetadataValue.text("; ".join(report.guard_notes) or "none"),
        "lists_reread": dg.MetadataValue.text(", ".join(report.rescanned) or "none"),
        "drift_located": dg.MetadataValue.json(
            {
                resource: {
                    "settled": found.settled,
                    "new_rows": len(found.new_items),
                    "deleted": len(found.deleted),
                    "calls": found.calls,
                    "reason": found.reason,
                }
                for resource, found in report.located.items()
            }
        ),
        "incremental": dg.MetadataValue.text(", ".join(report.incremental) or "none"),
        "cost_centres_rescanned": dg.MetadataValue.int(len(report.cost_centres)),
        "totals (api, warehouse)": dg.MetadataValue.json(
            {k: list(v) for k, v in report.totals.items()}
        ),
    }
    _log_materializations(context, report, profile_metadata(applied))
    if not report.ok:
        errors = [r.error for s in report.reports for r in s.resources if r.error]
        deferred = [report.deferred_reason] if report.deferred_reason else []
        deferred += [s.deferred_reason for s in report.reports if s.deferred_reason]
        raise dg.Failure(
            description=f"{account.name}: reconciliation incomplete: "
            + "; ".join([*deferred, *errors])[:2000],
            metadata=metadata,
        )
    return dg.Output(report.calls, metadata=metadata)


def _log_materializations(
    context: dg.OpExecutionContext, report: ReconcileReport, profile: dict[str, str]
) -> None:
    """Record what the sweep wrote as materialisations of the account's asset partitions:
    an account kept fresh by webhooks and the sweep has no nightly asset run, and the
    asset view should still show when its tables last changed, and its profile."""
    for sync in report.reports:
        for resource in sync.resources:
            if resource.ok:
                context.log_event(
                    dg.AssetMaterialization(
                        asset_key=resource.resource,
                        partition=report.account,
                        description=f"reconciliation sweep ({resource.mode})",
                        metadata={
                            "inserted": resource.counts.inserted,
                            "updated": resource.counts.updated,
                            "deleted": resource.counts.deleted,
                            "calls": resource.calls,
                            **profile,
                        },
                    )
                )
    declarations = load_declarations()
    for listed, found in report.located.items():
        if found.settled and (found.new_items or found.deleted):
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=declarations.asset_of(listed),
                    partition=report.account,
                    description="reconciliation sweep (drift located)",
                    metadata={
                        "inserted": len(found.new_items),
                        "deleted": len(found.deleted),
                        "calls": found.calls,
                        **profile,
                    },
                )
            )


@dg.job(name=RECONCILE_JOB, tags={TRIGGER_TAG: "reconcile"})
def reconcile_job() -> None:
    """The reconciliation sweep of one account."""
    reconcile()


def reconcile_schedule(
    partitions: AccountPartitions, settings: DagsterSettings
) -> dg.ScheduleDefinition:
    """One sweep per account, daily at `reconcile_cron` (after the nightly sync)."""

    @dg.schedule(
        name=RECONCILE_SCHEDULE,
        job=reconcile_job,
        cron_schedule=settings.reconcile_cron,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest | dg.SkipReason]:
        yield from per_account_requests(
            partitions,
            context,
            lambda account, stamp: dg.RunRequest(
                run_key=f"reconcile-{account}-{stamp}",
                run_config={"ops": {"reconcile": {"config": {"account": account}}}},
                tags={ACCOUNT_TAG: account, TRIGGER_TAG: "reconcile"},
            ),
        )

    return schedule
