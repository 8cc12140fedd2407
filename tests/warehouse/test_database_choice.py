"""The embedded PostgreSQL is a choice, never a fallback (issue 17 item 4).

Without `TAMPUURI_DATABASE_URL` a command stops before its first API call and before any
connection, naming the variable and the choice; `embedded` chooses the embedded server;
any other value is the warehouse's URL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from pipelines.settings import PROJECT_ROOT, ConfigError
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.server import serve_in_thread
from pipelines.warehouse.engine import EMBEDDED, database_url
from tests.cli_process import run_cli_process


def test_unset_is_an_error_naming_the_variable_and_the_choice() -> None:
    with pytest.raises(ConfigError) as caught:
        database_url({})
    message = str(caught.value)
    assert message.startswith("TAMPUURI_DATABASE_URL is not set")
    assert "'embedded'" in message and "db stop" in message
    with pytest.raises(ConfigError):
        database_url({"TAMPUURI_DATABASE_URL": "  "})


def test_a_url_is_taken_as_given_and_a_default_only_when_unset() -> None:
    url = "postgresql://bi@warehouse.example:5432/dw"
    assert database_url({"TAMPUURI_DATABASE_URL": url}) == (
        "postgresql+psycopg://bi@warehouse.example:5432/dw"
    )
    assert database_url({"TAMPUURI_DATABASE_URL": url}, default=EMBEDDED).endswith("/dw")


def test_sync_without_a_database_url_stops_before_its_first_call() -> None:
    sim = Simulator(SimulatorConfig(seed=3, scale=200, accounts=("demo-a",)))
    with serve_in_thread(sim) as base_url:
        creds = sim.credentials("demo-a")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("TAMPUURI_") and k != "DATABASE_URL"
        }
        env.update(
            TAMPUURI_BASE_URL=base_url + "/v10/api/",
            TAMPUURI_API_KEY=creds.api_key,
            TAMPUURI_CUSTOMER_NAME=creds.customer_name,
            TAMPUURI_ACCOUNT_NAME=creds.account_name,
            TAMPUURI_USERNAME=creds.username,
            TAMPUURI_PASSWORD=creds.password,
            COLUMNS="200",
        )
        for args in (["sync"], ["db", "upgrade"], ["budget"], ["plan"]):
            done = run_cli_process(args, env)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert "TAMPUURI_DATABASE_URL is not set" in done.stdout, (args, done.stdout)
            assert "Traceback" not in done.stdout + done.stderr
        assert sim.transactions() == []  # not one call reached the API


def test_db_stop_stops_the_embedded_server_and_keeps_its_data() -> None:
    """`tampuuri-sync db stop` (stop_embedded_database) on a server of its own."""
    import uuid

    from sqlalchemy import text

    from pipelines.warehouse.engine import (
        embedded_database_url,
        make_engine,
        stop_embedded_database,
    )

    data_dir = PROJECT_ROOT / ".tampuuri" / f"test-stop-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(parents=True)
    engine = make_engine(embedded_database_url(data_dir), pool_size=1)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE kept (n int)"))
        conn.execute(text("INSERT INTO kept VALUES (7)"))
    engine.dispose()
    assert (data_dir / "postmaster.pid").exists()

    assert stop_embedded_database(data_dir) is True
    assert not (data_dir / "postmaster.pid").exists()
    assert stop_embedded_database(data_dir) is False  # nothing left to stop

    # Started again (by another process: pgserver keeps one handle per process), the data
    # is still there.
    read_back = (
        "import sys; from pathlib import Path; from sqlalchemy import text;"
        " from pipelines.warehouse.engine import embedded_database_url, make_engine;"
        " e = make_engine(embedded_database_url(Path(sys.argv[1])), pool_size=1);"
        " print(e.connect().execute(text('SELECT n FROM kept')).scalar_one())"
    )
    done = subprocess.run(
        [sys.executable, "-c", read_back, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert done.stdout.strip() == "7", done.stderr
    assert stop_embedded_database(data_dir) is True
    shutil.rmtree(data_dir)
