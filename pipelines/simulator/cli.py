"""`tampuuri-sync simulator serve`: the simulator as a local HTTP server (a dev tool)."""

from __future__ import annotations

import os
from typing import Annotated

import orjson
import typer
import uvicorn

from pipelines.simulator.app import Simulator
from pipelines.simulator.config import (
    FAULT_PRESETS,
    AccountCredentials,
    FaultConfig,
    SimulatorConfig,
)

simulator_app = typer.Typer(help="The local Tampuuri simulator.", no_args_is_help=True)
_ENV_CREDENTIALS = {
    "api_key": "TAMPUURI_API_KEY",
    "customer_name": "TAMPUURI_CUSTOMER_NAME",
    "account_name": "TAMPUURI_ACCOUNT_NAME",
    "username": "TAMPUURI_USERNAME",
    "password": "TAMPUURI_PASSWORD",
}


def parse_faults(value: str | None) -> FaultConfig | None:
    """A preset name (none, flaky, chaos) or a JSON object of FaultConfig fields."""
    if not value:
        return None
    if value in FAULT_PRESETS:
        return FAULT_PRESETS[value]
    try:
        return FaultConfig.from_dict(orjson.loads(value))
    except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
        presets = ", ".join(FAULT_PRESETS)
        raise typer.BadParameter(
            f"--faults: a preset ({presets}) or a JSON object: {exc}"
        ) from None


def env_credentials(environ: dict[str, str]) -> AccountCredentials | None:
    """The sync's single-account variables, when all five are set (one .env serves both)."""
    values = {key: environ.get(var, "") for key, var in _ENV_CREDENTIALS.items()}
    if not all(values.values()):
        return None
    return AccountCredentials(**values)


@simulator_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    scale: Annotated[int, typer.Option(help="Approximate rows per account.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed for data, credentials and faults.")] = 1,
    accounts: Annotated[str, typer.Option(help="Comma-separated account labels.")] = "demo-a",
    faults: Annotated[str | None, typer.Option(help="Preset (none, flaky, chaos) or JSON.")] = None,
    forbidden_share: Annotated[float, typer.Option(help="Share of cost centres forbidden.")] = 0.0,
    stream: Annotated[float, typer.Option(help="Random changes per second.")] = 0.0,
) -> None:
    """Serve the simulated Tampuuri API under /v10/api/ and its admin API under /_sim/."""
    labels = tuple(a.strip() for a in accounts.split(",") if a.strip())
    if not labels:
        raise typer.BadParameter("--accounts: at least one account")
    given = env_credentials(dict(os.environ))
    config = SimulatorConfig(
        seed=seed,
        scale=scale,
        accounts=labels,
        credentials={labels[0]: given} if given else None,
        faults=parse_faults(faults),
        forbidden_share=forbidden_share,
        change_stream_per_s=stream,
    )
    sim = Simulator(config)
    for label in labels:
        creds = sim.credentials(label)
        if given and label == labels[0]:
            typer.echo(f"{label}: credentials from TAMPUURI_* environment variables")
            continue
        # A local dev tool printing its own made-up credentials (intended).
        typer.echo(f"{label}:")
        for key, var in _ENV_CREDENTIALS.items():
            typer.echo(f"  {var}={getattr(creds, key)}")
    typer.echo(f"base URL: http://{host}:{port}/v10/api/")
    uvicorn.run(sim.app, host=host, port=port, log_level="warning")
