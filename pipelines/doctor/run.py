"""One doctor run: the plan, the budget check, the probes through a ledgered client.

Calls go through `sync.api_session` (the product's client: ledger rows with trigger
"doctor", timeouts, retries); retries are capped so that the run never spends more than
`max_calls`. Nothing is spent unless `spend=True` (the command's `--yes`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine

from pipelines import event_loop
from pipelines.budget.guard import used_calls, webhook_reserve
from pipelines.budget.packages import BillingCycle, ceiling_calls, package_for
from pipelines.declarations import load_declarations
from pipelines.doctor import probes_filters, probes_paging, probes_routes
from pipelines.doctor.findings import Finding
from pipelines.doctor.known_rows import active_ids, deleted_rows
from pipelines.doctor.override_file import write_overrides
from pipelines.doctor.plan import DEFAULT_MAX_CALLS, DoctorPlan, Probe, build_plan
from pipelines.doctor.reads import Reader
from pipelines.settings import (
    AccountConfig,
    SyncSettings,
    config_file,
    load_sync_settings,
)
from pipelines.sync.api_session import api_session
from pipelines.tampuuri.catalogue import Catalogue, catalogue_document, parse_catalogue
from pipelines.tampuuri.catalogue_overrides import overrides_path
from pipelines.tampuuri.client import tally_calls

TRIGGER = "doctor"


@dataclass
class DoctorRun:
    """What a run planned, found and spent."""

    account: str
    plan: DoctorPlan
    findings: list[Finding] = field(default_factory=list)
    calls: int = 0
    spent: bool = False
    refused: str | None = None  # why the run stopped: the budget check, refused credentials
    overrides_file: Path | None = None
    run_id: str = ""


def synced_catalogue(catalogue: Catalogue, account: AccountConfig) -> Catalogue:
    """The catalogue narrowed to the resources the account syncs (its opt-ins included):
    the doctor spends calls only on routes the account uses."""
    declarations = load_declarations()
    synced = set(account.synced_assets())
    return dataclasses.replace(
        catalogue,
        resources={
            name: routes
            for name, routes in catalogue.resources.items()
            if name not in declarations.resources or declarations.asset_of(name) in synced
        },
    )


def contract_catalogue(routes_file: Path) -> Catalogue:
    """The catalogue as routes.yaml states it, without earlier corrections: the doctor
    measures the assumptions themselves, not what a previous run concluded."""
    return parse_catalogue(catalogue_document(routes_file), source=str(routes_file))


def plan_for(
    engine: Engine, account: AccountConfig, catalogue: Catalogue, *, max_calls: int
) -> DoctorPlan:
    """The plan; reads the warehouse (deleted rows), spends no call."""
    with engine.connect() as conn:
        deleted = deleted_rows(conn, catalogue, account.name)
    return build_plan(catalogue, deleted=deleted, max_calls=max_calls)


def budget_refusal(engine: Engine, account: AccountConfig, calls: int, now: datetime) -> str | None:
    """Why `calls` may not be spent now (they must leave the webhook reserve), or None."""
    package = package_for(account)
    cycle = BillingCycle.for_account(account, now)
    with engine.connect() as conn:
        used = used_calls(conn, account, cycle)
    ceiling = ceiling_calls(account.budget, package)
    reserve = webhook_reserve(account.budget, package, webhooks=account.webhooks)
    left = ceiling - used - reserve
    if calls <= left:
        return None
    return (
        f"budget: the doctor needs {calls} calls, {max(left, 0):,} left of {ceiling:,} this cycle"
        f"{f' after the {reserve:,}-call webhook reserve' if reserve else ''} ({used:,} used);"
        f" it resets on {cycle.end.date().isoformat()}"
    )


def run_doctor(
    engine: Engine,
    account: AccountConfig,
    *,
    spend: bool,
    max_calls: int = DEFAULT_MAX_CALLS,
    routes_file: Path | None = None,
    settings: SyncSettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> DoctorRun:
    """Plan the probes; with `spend`, run them and write the overrides file.

    Raises:
        ConfigError: the routes file, the account's credentials or package are wrong.
    """
    routes_file = routes_file or config_file("routes.yaml")
    catalogue = synced_catalogue(contract_catalogue(routes_file), account)
    plan = plan_for(engine, account, catalogue, max_calls=max_calls)
    over = f"left out: over --max-calls {max_calls}"
    run = DoctorRun(account.name, plan, findings=list(plan.unprobeable))
    if not spend:
        return run
    if not plan.probes:  # a cap of 0: nothing measured, nothing to write
        run.findings.extend(_left_out(plan, over))
        return run
    now = now or datetime.now(UTC)
    run.refused = budget_refusal(engine, account, plan.calls, now)
    if run.refused is not None:
        return run
    settings = settings or load_sync_settings()
    run.run_id = f"doctor-{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        known = {
            p.resource: active_ids(conn, p.resource, account.name, 251)
            for p in plan.probes
            if p.assumption == "batch_max_ids"
        }

    async def probe_all() -> int:
        async with api_session(
            engine,
            account,
            settings=settings,
            trigger=TRIGGER,
            run_id=run.run_id,
            transport=transport,
            environ=environ,
            retry_cap=max(0, max_calls - plan.calls),
        ) as client:
            reader = Reader(client, catalogue)
            for probe in plan.probes:
                with tally_calls() as tally:
                    finding = await _probe(reader, probe, settings, known)
                run.findings.append(replace(finding, calls=tally.calls))
                if reader.auth_error is not None:
                    # Later calls would be refused unsent; nothing was learnt about the API.
                    run.refused = f"the API refused the credentials: {reader.auth_error}"
                    break
            return client.calls

    run.calls = event_loop.run(probe_all())
    if run.refused is not None:
        run.spent = run.calls > 0
        return run
    run.findings.extend(_left_out(plan, over))
    run.spent = True
    run.overrides_file = overrides_path(routes_file)
    write_overrides(run.overrides_file, run.findings, account=account.name, now=now)
    return run


def _left_out(plan: DoctorPlan, why: str) -> list[Finding]:
    return [Finding(p.assumption, p.resource, "could not tell", why) for p in plan.left_out]


async def _probe(
    reader: Reader, probe: Probe, settings: SyncSettings, known: Mapping[str, list[int]]
) -> Finding:
    match probe.assumption:
        case "ascending_ids":
            return await probes_paging.ascending_ids(reader, probe)
        case "limit_clamp":
            return await probes_paging.limit_clamp(
                reader, probe, page_size=reader.catalogue.max_page_size
            )
        case "total_stable":
            return await probes_paging.total_stable(reader, probe)
        case "change_since":
            return await probes_filters.change_since(
                reader, probe, overlap_minutes=settings.overlap_minutes
            )
        case "scope_filter":
            return await probes_filters.scope_filter(reader, probe)
        case "deleted_404":
            return await probes_routes.deleted_404(reader, probe)
        case "batch_max_ids":
            return await probes_routes.batch_max_ids(
                reader, probe, known_ids=known.get(probe.resource, [])
            )
    raise ValueError(f"no probe for {probe.assumption!r}")
