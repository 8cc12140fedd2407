"""Asset checks on the mirrored tables.

Why the checks are not partitioned although the assets are: partitioned asset checks are a
preview feature in Dagster 1.13, and a run of only partitioned checks (re-running a check
from the UI without re-syncing) fails with "no PartitionsDefinition shared by all the
provided assets". So each check is unpartitioned and account-aware: in a run of one account
partition (the nightly job, a materialisation from the UI) it evaluates that account; run on
its own it evaluates every configured account. It fails naming the account(s) at fault,
with per-account metadata.

Five checks per asset (the SQL is in `check_queries` and `sql/checks/`):

- `row_count_matches_api_total`: rows as of the last full scan equal the API's Total; it
  fails while the last run is `incomplete` (a scan that could not be proven complete);
- `no_duplicate_ids` (blocking): at most one open history version per id; when it fails,
  the assets that depend on the table are not run in the same run (a doubled history
  would be read into them) and the run fails naming the ids;
- `fresh`: the last successful sync is within the resource's freshness target
  (`freshness_hours`, `freshness_hours_by_resource` in config/schedules.yaml);
- `no_new_fields`: names the fields the API sends that the typed columns lack (kept in
  `data`) as metadata, and those first seen in the last run in its description; it always
  passes: a field the API adds is adopted, not a warning (the simulator sends a few, so the
  demo and `make ui` start green);
- `routes_readable`: the last run was not refused a route as a whole (`forbidden`: the API
  user's role lacks a right). A resource the account's config lists as `not_licensed`
  passes it, and `row_count_matches_api_total` and `fresh`, with that explanation.
"""

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import dagster as dg
from sqlalchemy import Connection

from pipelines.assets import check_queries
from pipelines.assets.check_queries import CheckOutcome
from pipelines.assets.settings import DagsterSettings
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sync.scans import ASSET_RESOURCES

# (conn, account, asset) -> outcome
Evaluate = Callable[[Connection, str, str], CheckOutcome]
# Checks that a resource refused as the account's config expects (not_licensed) passes.
LICENCE_EXPLAINS = frozenset(
    {"row_count_matches_api_total", "fresh", "routes_readable", "calls_as_planned"}
)
# Checks whose failure stops the downstream assets of the run. The others describe the
# source (its Total, its rights, new fields) or time, and the downstream rows stay right.
BLOCKING = frozenset({"no_duplicate_ids"})


def tampuuri_checks(
    settings: DagsterSettings, assets: Sequence[str] | None = None
) -> list[dg.AssetChecksDefinition]:
    """The six checks for every sync asset in `assets` (default: those not opt-in)."""

    def fresh(conn: Connection, account: str, asset: str) -> CheckOutcome:
        max_age = timedelta(hours=settings.freshness_hours_for(asset))
        return check_queries.fresh(conn, account, asset, max_age)

    kinds: list[tuple[str, Evaluate, dg.AssetCheckSeverity, str]] = [
        (
            "row_count_matches_api_total",
            check_queries.row_count_matches_api_total,
            dg.AssetCheckSeverity.ERROR,
            "Rows as of the last full scan equal the Total the API reported for it.",
        ),
        (
            "no_duplicate_ids",
            check_queries.no_duplicate_ids,
            dg.AssetCheckSeverity.ERROR,
            "At most one open history version per id.",
        ),
        (
            "fresh",
            fresh,
            dg.AssetCheckSeverity.ERROR,
            "The last successful sync is within the resource's freshness target.",
        ),
        (
            "no_new_fields",
            check_queries.no_new_fields,
            dg.AssetCheckSeverity.WARN,
            "Names the fields the API sends without a typed column (kept in data), those"
            " first seen in the last run first; informational, it always passes.",
        ),
        (
            "calls_as_planned",
            check_queries.calls_as_planned,
            dg.AssetCheckSeverity.WARN,
            "The last planned run spent no more calls than its plan, beyond retries and"
            " deletion proofs (drifting lists and stale totals show here).",
        ),
        (
            "routes_readable",
            check_queries.routes_readable,
            dg.AssetCheckSeverity.ERROR,
            "The API user's role may read the asset's routes: its last run was not refused"
            " a route as a whole (403 for a missing role right), unless not licensed.",
        ),
    ]
    return [
        _check(asset, name, evaluate, severity, description)
        for asset in (assets if assets is not None else ASSET_RESOURCES)
        for name, evaluate, severity, description in kinds
    ]


def _check(
    asset: str,
    name: str,
    evaluate: Evaluate,
    severity: dg.AssetCheckSeverity,
    description: str,
) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name=name, description=description, blocking=name in BLOCKING)
    def check(
        context: dg.AssetCheckExecutionContext,
        warehouse: WarehouseResource,
        tampuuri: TampuuriResource,
    ) -> dg.AssetCheckResult:
        if context.has_partition_key:
            accounts = [tampuuri.account(context.partition_key, credentials=False)]
        else:
            accounts = tampuuri.configured_accounts()
        outcomes: dict[str, CheckOutcome] = {}
        with warehouse.engine.connect() as conn:
            for account in accounts:
                refusal = check_queries.last_refusal(conn, account.name, asset)
                if name in LICENCE_EXPLAINS and refusal and refusal[0] == "not_licensed":
                    outcomes[account.name] = CheckOutcome(True, refusal[1])
                    continue
                if asset not in account.synced_assets():
                    outcomes[account.name] = CheckOutcome(
                        True, f"{account.name}: does not sync {asset} (opt-in)"
                    )
                    continue
                per_scope = check_queries.is_per_scope(asset)
                if name == "row_count_matches_api_total" and account.scope and not per_scope:
                    # A scoped account keeps only its cost centres' rows of account-wide
                    # lists, while the API's Total counts the whole account.
                    outcomes[account.name] = CheckOutcome(
                        True, f"{account.name}: scoped account, not comparable"
                    )
                    continue
                outcomes[account.name] = evaluate(conn, account.name, asset)
        return combine(outcomes, severity)

    return check


def combine(
    outcomes: dict[str, CheckOutcome], severity: dg.AssetCheckSeverity
) -> dg.AssetCheckResult:
    """One check result over accounts: passed only if every account passed."""
    failed = [o.description for o in outcomes.values() if not o.passed]
    shown = failed or [o.description for o in outcomes.values()]
    metadata: dict[str, Any] = {"accounts": sorted(outcomes)}
    if len(outcomes) == 1:
        metadata.update(next(iter(outcomes.values())).metadata)
    else:
        metadata["by_account"] = dg.MetadataValue.json(
            {name: {"passed": o.passed, **o.metadata} for name, o in outcomes.items()}
        )
    return dg.AssetCheckResult(
        passed=not failed,
        severity=severity,
        description="; ".join(shown)[:2000],
        metadata=metadata,
    )
