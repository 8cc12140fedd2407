"""`tampuuri-sync plan` and `tampuuri-sync budget`: the call plan and the transaction report.

Both print rich tables, or JSON with `--json`. `plan --probe` spends one `Limit=1` call per
account-wide scan (recorded in the ledger with trigger "probe") to plan exactly.
"""

from __future__ import annotations

import json as jsonlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Engine

from pipelines import event_loop
from pipelines.budget.guard import GuardDecision, decide, used_calls
from pipelines.budget.model import SyncPlan
from pipelines.budget.packages import BillingCycle, load_packages, package_for
from pipelines.budget.plan import plan_sync
from pipelines.budget.report import usage_report
from pipelines.budget.routes import asset_resources
from pipelines.console import console, print_config_error
from pipelines.settings import AccountConfig, ConfigError, find_account, load_accounts
from pipelines.tampuuri.paging import PAGING_RULE

plan_app = typer.Typer(help="Estimate the API calls a sync will make.")
budget_app = typer.Typer(help="Calls this billing cycle against the package.")
_WRITTEN = {"html": "HTML report", "png": "PNG chart"}


def _accounts(name: str | None) -> list[AccountConfig]:
    try:
        accounts = load_accounts()
        return [find_account(accounts, name)] if name else accounts
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None


def _engine() -> Engine:
    from pipelines.warehouse.engine import database_url, make_engine
    from pipelines.warehouse.migrations import upgrade

    engine = make_engine(database_url())
    upgrade(engine)
    return engine


def _probed_plan(
    engine: Engine, account: AccountConfig, resources: Sequence[str], full: bool
) -> SyncPlan:
    """Plan with `Limit=1` probes; the probes are billed calls, so they go to the ledger."""
    from pipelines.budget.probe import probe_plan
    from pipelines.tampuuri.catalogue import load_catalogue
    from pipelines.tampuuri.client import TampuuriClient
    from pipelines.tampuuri.ledger import CallLedger
    from pipelines.warehouse.ledger_sink import LedgerSink

    catalogue = load_catalogue()
    ledger = CallLedger(LedgerSink(engine))
    client = TampuuriClient(
        account.name,
        account.base_url,
        account.resolve_credentials(),
        network=account.network,
        ledger=ledger,
        trigger="probe",
        run_id=f"probe-{uuid.uuid4().hex[:12]}",
    )

    async def run() -> SyncPlan:
        async with client:
            with engine.connect() as conn:
                return await probe_plan(
                    client, catalogue, conn, account, resources=resources, full=full
                )

    try:
        return event_loop.run(run())
    finally:
        ledger.flush()


def plan_for(
    engine: Engine,
    account: AccountConfig,
    *,
    resources: Sequence[str],
    full: bool,
    probe: bool,
    now: datetime,
) -> tuple[SyncPlan, GuardDecision]:
    """The plan of one account's sync and what the budget guard would decide about it."""
    if probe:
        plan = _probed_plan(engine, account, resources, full)
    else:
        with engine.connect() as conn:
            plan = plan_sync(conn, None, account, resources=resources, full=full)
    cycle = BillingCycle.for_account(account, now)
    with engine.connect() as conn:
        used = used_calls(conn, account, cycle)
    decision = decide(
        plan,
        priority="full" if full else "incremental",
        used_calls=used,
        package=package_for(account, load_packages()),
        account_budget=account.budget,
        now=now,
        cycle=cycle,
        webhooks=account.webhooks,
    )
    return plan, decision


def _plan_table(plan: SyncPlan, decision: GuardDecision) -> Table:
    # The title names the command, not a mode: an incremental sync still scans in full
    # what has no change-since filter, and each row says which mode it gets.
    command = "tampuuri-sync sync --full" if plan.full else "tampuuri-sync sync"
    table = Table(title=f"{plan.account}: the calls `{command}` will make")
    for column in ("resource", "mode", "scopes", "calls", "basis", "notes"):
        table.add_column(column, justify="right" if column in {"scopes", "calls"} else "left")
    for r in plan.resources:
        table.add_row(
            r.resource, r.mode, str(len(r.scopes)), f"{r.calls:,}", r.basis, "\n".join(r.notes)
        )
    table.add_row("total", "", "", f"{plan.calls:,}", "", "", style="bold")
    table.caption = f"calls: {PAGING_RULE}"
    if plan.probe_calls:
        table.caption += f"\nprobes spent {plan.probe_calls:,} call(s)"
    style = {"run": "green", "trim": "yellow"}.get(decision.action, "red")
    table.caption = (table.caption + "\n" if table.caption else "") + (
        f"[{style}]{decision.action}[/{style}]: {decision.reason}"
    )
    return table


def plan_command(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    resources: Annotated[
        list[str] | None,
        typer.Option("--resource", help=f"Only these resources: {', '.join(asset_resources())}."),
    ] = None,
    full: Annotated[bool, typer.Option(help="Plan a full scan.")] = False,
    probe: Annotated[
        bool, typer.Option(help="One Limit=1 call per account-wide scan for exact totals.")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Estimate the API calls a sync will make, and what the budget guard would say."""
    known = asset_resources()
    chosen = tuple(resources or known)
    unknown = [r for r in chosen if r not in known]
    if unknown:
        console.print(f"[red]unknown resource(s) {unknown}; known: {list(known)}[/red]")
        raise typer.Exit(2)
    accounts = _accounts(account)  # a configuration error before any connection
    engine = _engine()
    now = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    for acc in accounts:
        plan, decision = plan_for(engine, acc, resources=chosen, full=full, probe=probe, now=now)
        if json:
            results.append(
                {
                    **plan.to_dict(),
                    "guard": {
                        "action": decision.action,
                        "allowed_calls": decision.allowed_calls,
                        "reason": decision.reason,
                    },
                }
            )
        else:
            console.print(_plan_table(plan, decision))
    if json:
        print(jsonlib.dumps({"plans": results}, ensure_ascii=False, indent=2))


def budget_command(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option(help="Write an HTML report here (one account) or into this dir.")
    ] = None,
    png: Annotated[
        Path | None, typer.Option(help="Write the chart PNG here (one account) or into this dir.")
    ] = None,
) -> None:
    """Calls so far, the forecast, when the package runs out, the cheapest package that
    fits, the settings that shape spending, and the calls by day, trigger, status, route."""
    from pipelines.budget.render import render_html, render_png
    from pipelines.budget.report_text import report_tables
    from pipelines.profiles.adapt import current_profiles
    from pipelines.profiles.describe import profile_document, profile_table

    accounts = _accounts(account)  # a configuration error before any connection
    engine = _engine()
    now = datetime.now(UTC)
    reports = [usage_report(engine, acc, now=now) for acc in accounts]
    with engine.connect() as conn:  # each account's profile and its adjustment
        profiles = current_profiles(conn, accounts, now=now)
    written: dict[str, dict[str, str]] = {}
    for report in reports:
        files = written.setdefault(report.account, {})
        if html is not None:
            path = render_html(report, _output(html, report.account, ".html", len(reports)))
            files["html"] = str(path.resolve())
        if png is not None:
            path = render_png(report, _output(png, report.account, ".png", len(reports)))
            files["png"] = str(path.resolve())
    if json:
        documents = [
            {
                **r.to_dict(),
                "profile": profile_document(profiles[r.account]),
                "written": written[r.account],
            }
            for r in reports
        ]
        print(jsonlib.dumps({"reports": documents}, ensure_ascii=False))
        return
    for report in reports:
        for table in report_tables(report):
            console.print(table)
        console.print(profile_table(profiles[report.account]))
        for kind, where in written[report.account].items():
            console.print(
                f"wrote the {_WRITTEN[kind]} of {report.account}: {where}",
                soft_wrap=True,
                markup=False,
            )


def _output(path: Path, account: str, suffix: str, count: int) -> Path:
    """One account writes to `path`; several write `<account><suffix>` into `path`."""
    if count == 1 and not path.is_dir():
        return path
    return path / f"{account}{suffix}"


plan_app.command("plan")(plan_command)
budget_app.command("budget")(budget_command)
