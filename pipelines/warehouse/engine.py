"""Where the warehouse is and how to connect to it.

`TAMPUURI_DATABASE_URL` names the warehouse. Unset, an embedded PostgreSQL (the
`pgserver` package) is started with its data under `.tampuuri/pgdata`, so a new user
needs no database server. URLs are normalised to SQLAlchemy's psycopg 3 dialect.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Engine, QueuePool, create_engine
from sqlalchemy.engine import make_url

from pipelines.settings import PROJECT_ROOT
from pipelines.tampuuri import json_codec

EMBEDDED_DATA_DIR = PROJECT_ROOT / ".tampuuri" / "pgdata"


def to_sqlalchemy_url(url: str) -> str:
    """Any postgres:// or postgresql:// URL as a `postgresql+psycopg://` URL."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def to_libpq_url(url: str) -> str:
    """A SQLAlchemy URL as a plain libpq URL (psql, psycopg.connect, pgserver)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def embedded_database_url(data_dir: Path = EMBEDDED_DATA_DIR) -> str:
    """Start (or reuse) the embedded PostgreSQL server and return its URL.

    The server keeps running after this process exits so that the demo, the CLI and
    Dagster share one warehouse; `tampuuri-sync db stop` stops it.
    """
    from pgserver import get_server  # type: ignore[attr-defined]  # lazily: no import side effect

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(str(data_dir), cleanup_mode=None)
    return to_sqlalchemy_url(server.get_uri())


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The warehouse URL: $TAMPUURI_DATABASE_URL, else the embedded server."""
    env = os.environ if environ is None else environ
    explicit = env.get("TAMPUURI_DATABASE_URL")
    return to_sqlalchemy_url(explicit) if explicit else embedded_database_url()


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    """An engine for the warehouse; connections are checked before use (server restarts)."""
    return create_engine(
        to_sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        hide_parameters=True,
        json_deserializer=json_codec.decode,  # jsonb read back with its exact decimals
    )


def pool_capacity(engine: Engine) -> int | None:
    """How many connections the engine's pool lets be open at once; None: no limit (a
    NullPool, unlimited overflow) or a kind of pool that does not say."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return None
    # QueuePool has no public accessor for its overflow limit; it has kept it as
    # `_max_overflow` (-1: no limit) through SQLAlchemy 1.4 and 2.x (pinned below 2.2).
    overflow = int(getattr(pool, "_max_overflow", 0))
    return None if overflow < 0 else pool.size() + overflow


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(to_sqlalchemy_url(url)).render_as_string(hide_password=True)
