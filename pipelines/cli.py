"""The `tampuuri-sync` command."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from pipelines.console import (
    console,
    print_config_error,
    print_errors,
    progress_for,
    summary_table,
)
from pipelines.local_extra import mount_simulator, require_local_extra
from pipelines.settings import ConfigError, find_account, load_accounts
from pipelines.settings.preflight import check_sync_settings
from pipelines.sync.engine import SyncRequest, run_sync
from pipelines.sync.report import SyncReport
from pipelines.sync.scans import ASSET_RESOURCES
from pipelines.warehouse.engine import (
    database_url,
    make_engine,
    redacted,
    stop_embedded_database,
)
from pipelines.warehouse.migrations import upgrade

app = typer.Typer(
    help="Mirror Tampuuri into a PostgreSQL warehouse, within the API call budget.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)
db_app = typer.Typer(help="The warehouse database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


_mounted: list[bool] = []


def _mount_optional_apps() -> None:
    """Sub-commands that live with their own concern (mounted once per process)."""
    if _mounted:
        return
    _mounted.append(True)
    from pipelines.budget.cli import budget_command, plan_command
    from pipelines.doctor.cli import doctor_command
    from pipelines.webhooks.cli import webhooks_app

    mount_simulator(app)
    app.add_typer(webhooks_app, name="webhooks", help="Webhook receiver and inbox.")
    app.command("plan", help="Estimate the API calls a sync will make.")(plan_command)
    app.command("budget", help="Calls this billing cycle against the package.")(budget_command)
    app.command("doctor", help="Check the catalogue's [ASSUMED] facts on a live account.")(
        doctor_command
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations and re-create the BI views and role."""
    url = database_url()
    applied = upgrade(make_engine(url))
    console.print(f"warehouse {redacted(url)}: {len(applied)} migration(s) applied")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (its data under .tampuuri/ stays)."""
    if stop_embedded_database():
        console.print("the embedded PostgreSQL under .tampuuri/pgdata stopped")
    else:
        console.print("the embedded PostgreSQL under .tampuuri/pgdata is not running")


@db_app.command("url")
def db_url() -> None:
    """Print the warehouse URL (password hidden)."""
    console.print(redacted(database_url()))


@app.command()
def sync(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    resource: Annotated[
        list[str] | None, typer.Option(help=f"Only these resources: {', '.join(ASSET_RESOURCES)}.")
    ] = None,
    full: Annotated[bool, typer.Option(help="Full scan (also finds deletions).")] = False,
) -> None:
    """Sync accounts (incremental by default) and print what changed."""
    try:
        accounts = load_accounts()
        selected = [find_account(accounts, account)] if account else accounts
        check_sync_settings(selected)  # every setting a run reads: before any call
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    url = database_url()
    reports: list[SyncReport] = []
    try:
        engine = make_engine(url)
        upgrade(engine)
        for acc in selected:
            with progress_for(acc.name) as listener:
                reports.append(
                    run_sync(
                        engine,
                        SyncRequest(acc, tuple(resource) if resource else None, full=full),
                        progress=listener,
                    )
                )
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    except DBAPIError as exc:
        # Scopes already committed stay; the failed scope rolled back. Rerun to converge.
        console.print(f"[red]warehouse {redacted(url)}: database error: {exc.orig}[/red]")
        raise typer.Exit(3) from None
    if not all(r.credentials_refused for r in reports):  # else the table is all "failed"
        console.print(summary_table(reports))
    print_errors(reports)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@app.command()
def demo(
    scale: Annotated[int, typer.Option(help="Rows per simulated account.")] = 3000,
) -> None:
    """The main job end to end on embedded defaults: embedded PostgreSQL + the simulator."""
    require_local_extra("`tampuuri-sync demo`")
    from pipelines.demo import run_demo

    raise typer.Exit(run_demo(scale=scale))


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Dagster web UI port.")] = 3000,
    sim_port: Annotated[int, typer.Option(help="Simulator port.")] = 8765,
) -> None:
    """Start `dagster dev` on embedded defaults (embedded PostgreSQL + the simulator)."""
    require_local_extra("`tampuuri-sync ui`")
    from pipelines.dagster_dev import run_dagster_dev

    raise typer.Exit(run_dagster_dev(port=port, sim_port=sim_port))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _mount_optional_apps()
    try:
        app()
    except ConfigError as exc:  # e.g. no TAMPUURI_DATABASE_URL: before any call or connection
        print_config_error(exc)
        raise SystemExit(2) from None
    except DBAPIError as exc:  # e.g. the warehouse is down or the URL names no server
        reason = " ".join(str(exc.orig).split())  # psycopg's message, on one line
        console.print(
            f"[red]warehouse {escape(redacted(database_url()))}: {escape(reason)}[/red]",
            soft_wrap=True,
        )
        raise SystemExit(3) from None
