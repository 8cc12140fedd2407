"""The embedded local stack behind `demo` and `ui`: embedded PostgreSQL + the simulator.

Nothing here is used with real accounts. It starts the simulator on a loopback port,
writes an accounts file pointing at it under `.tampuuri/`, and returns the environment
variables (credentials included: they are the simulator's made-up ones) that the CLI, the
sync and Dagster read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import yaml
from psycopg import sql
from sqlalchemy.engine import make_url

from pipelines.declarations import load_declarations
from pipelines.settings import PROJECT_ROOT
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.warehouse.engine import embedded_database_url, to_libpq_url

LOCAL_DIR = PROJECT_ROOT / ".tampuuri"
DEMO_ACCOUNTS = ("demo-a", "demo-b")
DEMO_PACKAGES = {"demo-a": "normal", "demo-b": "standard"}


@dataclass(frozen=True)
class LocalStack:
    simulator: Simulator
    api_url: str  # e.g. http://127.0.0.1:8765
    database_url: str
    environ: dict[str, str]
    accounts_file: Path


def fresh_database(server_url: str, name: str) -> str:
    """Drop and create database `name` on the embedded server; return its URL."""
    with psycopg.connect(to_libpq_url(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def write_accounts_file(
    sim: Simulator, api_url: str, directory: Path
) -> tuple[Path, dict[str, str]]:
    """An accounts file for the simulator's accounts and the variables it names."""
    directory.mkdir(parents=True, exist_ok=True)
    environ: dict[str, str] = {}
    accounts = []
    # The simulator serves every declared resource: the demo accounts opt in to them all.
    opt_in = [name for name, asset in load_declarations().assets.items() if asset.opt_in]
    for name in DEMO_ACCOUNTS:
        prefix = name.upper().replace("-", "_")
        creds = sim.credentials(name)
        variables = {
            "api_key": f"{prefix}_API_KEY",
            "customer_name": f"{prefix}_CUSTOMER_NAME",
            "account_name": f"{prefix}_ACCOUNT_NAME",
            "username": f"{prefix}_USERNAME",
            "password": f"{prefix}_PASSWORD",
        }
        for key, variable in variables.items():
            environ[variable] = getattr(creds, key)
        accounts.append(
            {
                "name": name,
                "base_url": f"{api_url}/v10/api/",
                "package": DEMO_PACKAGES[name],
                "credentials": variables,
                "resources": opt_in,
            }
        )
    path = directory / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": accounts}, sort_keys=False), encoding="utf-8")
    environ["TAMPUURI_ACCOUNTS_FILE"] = str(path)
    return path, environ


@contextlib.contextmanager
def local_stack(
    *, database: str, scale: int, seed: int = 7, port: int = 0, fresh: bool = True
) -> Iterator[LocalStack]:
    """Embedded PostgreSQL (database `database`) and a simulator serving two demo accounts."""
    server_url = embedded_database_url()
    database_url = (
        fresh_database(server_url, database)
        if fresh
        else make_url(server_url).set(database=database).render_as_string(hide_password=False)
    )
    sim = Simulator(SimulatorConfig(seed=seed, scale=scale, accounts=DEMO_ACCOUNTS))
    with serve_in_thread(sim, host="127.0.0.1", port=port) as api_url:
        accounts_file, environ = write_accounts_file(sim, api_url, LOCAL_DIR / database)
        environ["TAMPUURI_DATABASE_URL"] = database_url
        yield LocalStack(sim, api_url, database_url, environ, accounts_file)
