"""The declared resources (config/resources/) as account-partitioned assets.

Each asset runs the shared sync engine (`run_sync`) for its resource and the partition's
account, and reports what it wrote and what it cost. How a report maps onto Dagster:

- success: a materialisation with the counts.
- partial (some fan-out scopes failed; each scope commits on its own): a materialisation,
  because the scopes that loaded are committed and downstream assets may use them, with
  `status: partial`, the error and a warning in the metadata and a warning in the log.
  The failed scopes keep their previous rows and are retried by the next run.
- forbidden (the API refused the route as a whole: the API user's role lacks its right):
  a materialisation with `status: forbidden` and the sentence naming the route and the
  right, an error in the log, and the asset's `routes_readable` check fails; the table
  keeps its previous rows. not_licensed (the same refusal, listed in the account's
  `not_licensed`): a materialisation saying so, and the checks pass with that explanation.
- failed / deferred: `dg.Failure` carrying the same metadata, raised after `run_sync`
  wrote the run's row to `ops.sync_runs`; downstream assets of the run are not started.

Each asset's description, upstream assets (`after`) and freshness policy (its
`freshness_hours`, else config/schedules.yaml's) come from its declaration; it syncs
holding a slot of the account's concurrency pool (`account_pool`). An opt-in asset exists
when some account opts in; materialised for an account that does not, it fails saying so.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.assets.account_pool import account_pools
from pipelines.assets.metadata import sync_metadata
from pipelines.assets.settings import DagsterSettings, load_dagster_settings
from pipelines.budget.month_usage import month_usage
from pipelines.declarations import Asset, load_declarations
from pipelines.profiles.adapt import current_profiles
from pipelines.profiles.describe import profile_metadata
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sync.scans import ASSET_RESOURCES
from pipelines.tampuuri.errors import object_refusal_sentence

GROUP = "tampuuri"
# Runs started by the schedule or sensors say why; a run from the UI is "manual".
TRIGGER_TAG = "tampuuri/trigger"
ACCOUNT_TAG = "tampuuri/account"
# Objects skipped for lack of rights logged as sentences (the metadata counts them all).
SKIPPED_LOGGED = 10


class SyncConfig(dg.Config):
    """Run config of a sync asset (the launchpad shows it)."""

    full: bool = False  # a full scan re-reads everything and also finds deletions


def tampuuri_assets(
    partitions: dg.PartitionsDefinition,
    settings: DagsterSettings | None = None,
    assets: Sequence[str] | None = None,
) -> list[dg.AssetsDefinition]:
    """One asset per declared asset in `assets` (default: every one not opt-in),
    partitioned by account (settings: schedules.yaml's)."""
    settings = settings or load_dagster_settings()
    declared = load_declarations().assets
    names = assets if assets is not None else ASSET_RESOURCES
    return [_sync_asset(declared[name], partitions, settings, names) for name in names]


def _sync_asset(
    asset: Asset,
    partitions: dg.PartitionsDefinition,
    settings: DagsterSettings,
    defined: Sequence[str],
) -> dg.AssetsDefinition:
    resource = asset.name

    @dg.asset(
        name=resource,
        group_name=GROUP,
        partitions_def=partitions,
        deps=[after for after in asset.after if after in defined],
        description=asset.description,
        kinds={"postgres"},
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(hours=settings.freshness_hours_for(resource))
        ),
    )
    def sync_asset(
        context: dg.AssetExecutionContext,
        config: SyncConfig,
        warehouse: WarehouseResource,
        tampuuri: TampuuriResource,
    ) -> dg.MaterializeResult:  # type: ignore[type-arg]
        return materialise(context, resource, config, warehouse, tampuuri)

    return sync_asset


def materialise(
    context: dg.AssetExecutionContext,
    resource: str,
    config: SyncConfig,
    warehouse: WarehouseResource,
    tampuuri: TampuuriResource,
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    """Sync one resource of the partition's account and report it."""
    configured = tampuuri.account(context.partition_key, credentials=False)
    if resource not in configured.synced_assets():  # before any secret is read
        raise dg.Failure(
            description=f"account {configured.name!r} does not sync {resource}: it is opt-in;"
            f" add it to the account's `resources:` in the accounts file to sync it",
            allow_retries=False,
        )
    account = tampuuri.account(context.partition_key)
    trigger = context.run.tags.get(TRIGGER_TAG, "manual")
    with account_pools(context, [account.name]):
        report = tampuuri.sync(
            warehouse.engine,
            account,
            resource,
            full=config.full,
            trigger=trigger,
            run_id=context.run_id,
        )
    if report.deferred_reason is not None:
        raise dg.Failure(description=f"deferred: {report.deferred_reason}", allow_retries=False)
    resource_report = report.resource(resource)
    with warehouse.engine.connect() as conn:
        usage = month_usage(conn, account)
        [applied] = current_profiles(conn, [account], now=datetime.now(UTC)).values()
    metadata = {**sync_metadata(resource_report, usage), **profile_metadata(applied)}
    if resource_report.status in ("failed", "deferred"):
        raise dg.Failure(
            description=f"{account.name} {resource} {resource_report.status}: "
            f"{resource_report.error or 'no error text'}",
            metadata=metadata,
            allow_retries=False,
        )
    if resource_report.status == "partial":
        context.log.warning(f"{account.name} {resource} partial: {resource_report.error}")
    for skipped in resource_report.skipped[:SKIPPED_LOGGED]:  # object rights: sentences
        context.log.warning(object_refusal_sentence(account.name, skipped))
    if resource_report.status == "forbidden":
        context.log.error(resource_report.error or f"{account.name} {resource} forbidden")
    if resource_report.status == "not_licensed":
        context.log.info(resource_report.error or f"{account.name} {resource} not licensed")
    return dg.MaterializeResult(metadata=metadata)
