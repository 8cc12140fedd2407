"""Shared fixtures: a real PostgreSQL per test and the simulator.

PostgreSQL: `TEST_DATABASE_URL` (a server where the user may CREATE DATABASE) if set,
else an embedded server from the `pgserver` package under `.tampuuri/test-pgdata`.
Each test gets its own database, cloned from a migrated template, so tests are isolated
and run in parallel under pytest-xdist.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse.engine import make_engine, to_libpq_url, to_sqlalchemy_url
from pipelines.warehouse.migrations import upgrade


def _server_url() -> str:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        return to_sqlalchemy_url(explicit)
    import pgserver

    data_dir = PROJECT_ROOT / ".tampuuri" / "test-pgdata"
    data_dir.mkdir(parents=True, exist_ok=True)
    # "stop": the last test process to exit stops the server (make test leaves none running).
    return to_sqlalchemy_url(pgserver.get_server(str(data_dir), cleanup_mode="stop").get_uri())


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str, statement: str) -> None:
    with psycopg.connect(to_libpq_url(url), autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def template_database(pg_server_url: str, worker_id: str) -> Iterator[str]:
    """A database migrated once per test worker; tests clone it."""
    name = f"tsync_tpl_{worker_id}_{uuid.uuid4().hex[:8]}"
    _admin(pg_server_url, f'CREATE DATABASE "{name}"')
    url = _with_database(pg_server_url, name)
    engine = make_engine(url, pool_size=1)
    upgrade(engine)
    engine.dispose()
    yield name
    _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated warehouse database for one test (SQLAlchemy URL)."""
    name = f"tsync_{uuid.uuid4().hex[:12]}"
    _admin(pg_server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield _with_database(pg_server_url, name)
    _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    eng = make_engine(warehouse_url, pool_size=4)
    yield eng
    eng.dispose()
