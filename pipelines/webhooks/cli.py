"""`tampuuri-sync webhooks ...`: run the receiver, look into the inbox."""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.table import Table

from pipelines.console import console, print_config_error
from pipelines.settings import ConfigError, describe_validation_error
from pipelines.webhooks.process import DEFAULT_MAX_BATCH
from pipelines.webhooks.settings import ReceiverSettings

webhooks_app = typer.Typer(
    help="Webhook receiver and inbox.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold the webhook secret
)


@webhooks_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8787,
) -> None:
    """Run the webhook receiver (secret from TAMPUURI_WEBHOOK_SECRET)."""
    import uvicorn

    from pipelines.warehouse.engine import database_url, make_engine, redacted
    from pipelines.warehouse.migrations import upgrade
    from pipelines.webhooks.receiver import create_receiver_app
    from pipelines.webhooks.server import server_config

    try:
        settings = ReceiverSettings()
        url = database_url()
        engine = make_engine(url)
        upgrade(engine)
        app = create_receiver_app(engine, settings)
    except ValidationError as exc:
        _fail(describe_validation_error("environment (TAMPUURI_WEBHOOK_*)", exc))
    except ConfigError as exc:
        _fail(exc)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    where = f"{settings.path}/<secret>" if settings.auth_mode == "path" else settings.path
    console.print(f"receiver on http://{host}:{port}{where}, warehouse {redacted(url)}")
    uvicorn.Server(server_config(app, settings, host=host, port=port)).run()


@webhooks_app.command("inbox")
def inbox() -> None:
    """Inbox counts by status and event type, unknown types, dead letters."""
    from pipelines.warehouse.engine import database_url, make_engine
    from pipelines.warehouse.migrations import upgrade
    from pipelines.webhooks.inbox_summary import inbox_summary

    engine = make_engine(database_url())
    upgrade(engine)
    with engine.connect() as conn:
        summary = inbox_summary(conn)
    statuses = sorted(summary.by_status)
    table = Table(title="Webhook inbox")
    table.add_column("event type")
    for status in statuses:
        table.add_column(status, justify="right")
    actions = sorted({action for action, _ in summary.by_action})
    for action in actions:
        counts = [str(summary.by_action.get((action, s), "")) for s in statuses]
        table.add_row(action, *counts)
    table.add_row("[bold]total[/bold]", *(str(summary.by_status[s]) for s in statuses))
    console.print(table)
    if summary.unknown_types:
        listed = ", ".join(f"{name} ({n})" for name, n in summary.unknown_types.items())
        console.print(
            f"[yellow]unknown event types (add them to config/events.yaml): {listed}[/yellow]"
        )
    console.print(f"dead letters: {summary.dead_letters}")
    if summary.oldest_pending_at is not None:
        console.print(
            f"oldest pending event received at {summary.oldest_pending_at:%Y-%m-%d %H:%M:%S%z}"
        )


@webhooks_app.command("process")
def process(
    window: Annotated[
        float, typer.Option(help="Coalescing window: events younger than this many seconds wait.")
    ] = 0.0,
    max_batch: Annotated[int, typer.Option(help="Distinct rows per batch.")] = DEFAULT_MAX_BATCH,
    max_batches: Annotated[int, typer.Option(help="Stop after this many batches.")] = 100,
) -> None:
    """Drain the webhook inbox once (no Dagster needed): refresh what due events name."""
    from pipelines.settings import load_accounts
    from pipelines.warehouse.engine import database_url, make_engine
    from pipelines.warehouse.migrations import upgrade
    from pipelines.webhooks.process import ProcessResult, process_inbox_once

    try:
        accounts = load_accounts()
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from None
    engine = make_engine(database_url())
    upgrade(engine)
    total = ProcessResult(run_id="")
    seen_keys: set[str] = set()
    for _ in range(max_batches):
        one = process_inbox_once(engine, accounts=accounts, window_s=window, max_batch=max_batch)
        # Nothing due, or the same batch again (all deferred or failing): stop.
        if one.batch_key is None or one.batch_key in seen_keys:
            break
        seen_keys.add(one.batch_key)
        console.print(
            f"{one.batch_key}: {one.events} events, {one.done} done, {one.failed} failed,"
            f" {one.dead} dead, {one.unknown} unknown, {one.deferred} deferred,"
            f" {one.calls} calls"
        )
        for name, reason in one.deferred_reasons.items():
            console.print(f"[yellow]{name}: deferred: {reason}[/yellow]")
        total.failed += one.failed
        total.dead += one.dead
        if one.deferred or one.failed == one.events:
            break
    if not seen_keys:
        console.print("nothing due in the webhook inbox")
    if total.failed or total.dead:
        raise typer.Exit(1)


def _fail(exc: Exception) -> NoReturn:
    print_config_error(exc)
    raise typer.Exit(2)
