"""The `local` extra: the simulator's Faker and the embedded PostgreSQL's pgserver.

A production install (`pip install tampuuri-sync`, the Docker image) leaves them out. The
commands that need them (`simulator`, `demo`, `ui`, `TAMPUURI_DATABASE_URL=embedded`)
check first and name the extra, instead of failing with an ImportError traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

import typer

from pipelines.settings import ConfigError

LOCAL_EXTRA = "local"
SIMULATOR_PACKAGES = ("faker",)
EMBEDDED_DATABASE_PACKAGES = ("pgserver",)
LOCAL_PACKAGES = SIMULATOR_PACKAGES + EMBEDDED_DATABASE_PACKAGES


class MissingExtraError(ConfigError):
    """A command needs the `local` extra, which this install does not have."""


def missing_packages(packages: Iterable[str]) -> list[str]:
    """Those of `packages` that cannot be imported here."""
    return [name for name in packages if importlib.util.find_spec(name) is None]


def require_local_extra(what: str, packages: Iterable[str] = LOCAL_PACKAGES) -> None:
    """Raise MissingExtraError naming the extra when one of `packages` is not installed."""
    missing = missing_packages(packages)
    if missing:
        raise MissingExtraError(
            f"{what} needs the `{LOCAL_EXTRA}` extra ({', '.join(missing)} not installed):"
            f" pip install 'tampuuri-sync[{LOCAL_EXTRA}]', or `make install` in a checkout"
        )


def mount_simulator(app: typer.Typer) -> None:
    """`tampuuri-sync simulator ...`: the simulator's commands, or, without the extra, one
    that says which extra to install whatever arguments it is given."""
    if not missing_packages(SIMULATOR_PACKAGES):
        from pipelines.simulator.cli import simulator_app

        app.add_typer(simulator_app, name="simulator", help="The local Tampuuri simulator.")
        return

    @app.command(
        "simulator",
        help=f"The local Tampuuri simulator (needs the `{LOCAL_EXTRA}` extra).",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def simulator_needs_extra() -> None:
        require_local_extra("`tampuuri-sync simulator`", SIMULATOR_PACKAGES)
