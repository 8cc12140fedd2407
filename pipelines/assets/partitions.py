"""Account partitions: one partition per configured Tampuuri account.

The accounts file (or the TAMPUURI_* variables) is read when the code location loads; no
secret is read. When no account is configured at all, the code location still loads, with
the single partition `unconfigured`: every run of it fails with the configuration error,
which is what a new user needs to read. (Dagster does not allow an empty static partition
set for assets, and a code location that fails to load hides the asset graph entirely.)
"""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from pipelines.settings import ConfigError, load_accounts

UNCONFIGURED = "unconfigured"


@dataclass(frozen=True)
class AccountPartitions:
    """The partition keys, and why there are none when accounts are not configured."""

    names: tuple[str, ...]
    problem: str | None = None

    @property
    def definition(self) -> dg.StaticPartitionsDefinition:
        return dg.StaticPartitionsDefinition(list(self.names))


def account_partitions() -> AccountPartitions:
    """The configured account names, or the placeholder with the ConfigError message."""
    try:
        accounts = load_accounts()
    except ConfigError as exc:
        return AccountPartitions((UNCONFIGURED,), problem=str(exc))
    return AccountPartitions(tuple(a.name for a in accounts))
