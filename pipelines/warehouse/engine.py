"""Where the warehouse is and how to connect to it.

`TAMPUURI_DATABASE_URL` names the warehouse. The embedded PostgreSQL (the `pgserver`
package, data under `.tampuuri/pgdata`) is a choice, never a fallback: the value
`embedded` asks for it (`make demo`, `make ui` and the tests ask so themselves). Unset, a
command stops before its first call: a typo in a deployment's environment must not send
a night's data into a local folder. URLs are normalised to SQLAlchemy's psycopg 3 dialect.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from sqlalchemy import Engine, QueuePool, create_engine
from sqlalchemy.engine import make_url

from pipelines.local_extra import EMBEDDED_DATABASE_PACKAGES, require_local_extra
from pipelines.settings import PROJECT_ROOT, ConfigError, read_environment
from pipelines.settings.environment import DATABASE_VARIABLE as DATABASE_VARIABLE
from pipelines.settings.environment import EMBEDDED as EMBEDDED
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
    require_local_extra(f"{DATABASE_VARIABLE}={EMBEDDED}", EMBEDDED_DATABASE_PACKAGES)
    data_dir.mkdir(parents=True, exist_ok=True)
    server = import_pgserver().get_server(str(data_dir), cleanup_mode=None)
    return to_sqlalchemy_url(server.get_uri())


def database_url(environ: Mapping[str, str] | None = None, *, default: str = "") -> str:
    """The warehouse URL from $TAMPUURI_DATABASE_URL (`embedded`: the embedded server).

    Args:
        environ: The environment (default: the process's).
        default: The value taken when the variable is unset: local tools that choose the
            embedded server themselves (the benchmarks) say so with `default=EMBEDDED`.

    Raises:
        ConfigError: the variable is unset or blank; the message names it and the choice.
    """
    given = read_environment(environ).database_url  # ConfigError if not a PostgreSQL URL
    explicit = given.get_secret_value() if given is not None else default.strip()
    if explicit.lower() == EMBEDDED:
        return embedded_database_url()
    if not explicit:
        raise ConfigError(
            f"{DATABASE_VARIABLE} is not set: set it to your warehouse's URL"
            " (postgresql://user@host:5432/dbname), or to 'embedded' for a local embedded"
            " PostgreSQL under .tampuuri/ (stop it with `tampuuri-sync db stop`)"
        )
    return to_sqlalchemy_url(explicit)


def stop_embedded_database(data_dir: Path = EMBEDDED_DATA_DIR) -> bool:
    """Stop the embedded PostgreSQL if it runs; its data stays. True if it was running."""
    if not (data_dir / "postmaster.pid").exists():
        return False
    pg_ctl = import_pgserver().pg_ctl
    # As root, pgserver runs the server as its own system user, so pg_ctl must too.
    user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None
    try:
        pg_ctl(["-m", "fast", "-w", "stop"], pgdata=data_dir, user=user)
    except subprocess.CalledProcessError:
        return False  # a stale pid file: the server was not running
    return True


def import_pgserver() -> ModuleType:
    """The pgserver package, imported lazily (no import side effect for other commands).

    pgserver asks platformdirs for a runtime directory when it is imported; where
    XDG_RUNTIME_DIR is unset (containers, CI, `su`, ssh without a login session)
    platformdirs warns and falls back to /tmp/runtime-<uid>, which serves pgserver's socket
    and lock file just as well. Only that warning is silenced, and only its text, here where
    every entry point (CLI, Dagster, benchmarks) imports the package.
    """
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set", module="platformdirs")
    import pgserver

    return pgserver


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
    """The URL with its password hidden, for messages and logs (an empty password, as the
    embedded server's, is left out rather than shown as *** as if there were one)."""
    parsed = make_url(to_sqlalchemy_url(url))
    if not parsed.password:
        parsed = parsed._replace(password=None)
    return parsed.render_as_string(hide_password=True)
