"""`tampuuri-sync webhooks ...`: run the receiver, look into the inbox."""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from pipelines.settings import ConfigError, describe_validation_error
from pipelines.webhooks.settings import ReceiverSettings

webhooks_app = typer.Typer(
    help="Webhook receiver and inbox.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold the webhook secret
)
console = Console(highlight=False)


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
    # No access log: in path mode the URL holds the secret. The receiver logs each
    # bundle itself, without it.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")


@webhooks_app.command("inbox")
def inbox() -> None:
    """Inbox counts by status and event type, unknown types, dead letters."""
    from pipelines.warehouse.engine import database_url, make_engine
    from pipelines.warehouse.migrations import upgrade
    from pipelines.webhooks.inbox import inbox_summary

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


def _fail(exc: Exception) -> NoReturn:
    console.print(f"[red]configuration error: {exc}[/red]")
    raise typer.Exit(2)
