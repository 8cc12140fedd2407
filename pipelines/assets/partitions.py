"""Account partitions: one partition per configured Tampuuri account.

The accounts file (or the TAMPUURI_* variables) is read when the code location loads; no
secret is read. When no account is configured at all, the code location still loads, with
the single partition `unconfigured`: every run of it fails with the configuration error,
which is what a new user needs to read. (Dagster does not allow an empty static partition
set for assets, and a code location that fails to load hides the asset graph entirely.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import dagster as dg

from pipelines.declarations import load_declarations
from pipelines.settings import ConfigError, load_accounts

UNCONFIGURED = "unconfigured"


@dataclass(frozen=True)
class AccountPartitions:
    """The partition keys, and why there are none when accounts are not configured."""

    names: tuple[str, ...]
    problem: str | None = None
    # Accounts whose changes arrive by webhooks (no nightly polling sync).
    webhook_accounts: frozenset[str] = frozenset()
    # Account -> the assets it syncs (the declared ones, opt-ins only where it opts in).
    synced: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def assets(self) -> tuple[str, ...]:
        """The assets of the code location: every declared asset that is not opt-in, and
        the opt-in ones some account syncs, in the declarations' order."""
        opted = {asset for assets in self.synced.values() for asset in assets}
        return tuple(
            name
            for name, asset in load_declarations().assets.items()
            if not asset.opt_in or name in opted
        )

    def syncs_all(self, account: str) -> bool:
        """Whether the account syncs every asset of the code location."""
        return set(self.assets) <= set(self.synced.get(account, self.assets))

    @property
    def definition(self) -> dg.StaticPartitionsDefinition:
        return dg.StaticPartitionsDefinition(list(self.names))


def account_partitions() -> AccountPartitions:
    """The configured account names, or the placeholder with the ConfigError message."""
    try:
        accounts = load_accounts()
    except ConfigError as exc:
        return AccountPartitions((UNCONFIGURED,), problem=str(exc))
    return AccountPartitions(
        tuple(a.name for a in accounts),
        webhook_accounts=frozenset(a.name for a in accounts if a.webhooks),
        synced={a.name: a.synced_assets() for a in accounts},
    )


def per_account_requests(
    partitions: AccountPartitions,
    context: dg.ScheduleEvaluationContext,
    request: Callable[[str, str], dg.RunRequest],
    *,
    polling_only: bool = False,
) -> Iterator[dg.RunRequest | dg.SkipReason]:
    """A schedule tick's requests: `request(account, tick stamp)` per account, or a skip.

    The stamp makes run keys unique per tick (Dagster remembers run keys forever).
    `polling_only`: leave out the accounts whose changes arrive by webhooks.
    """
    if partitions.problem is not None:
        yield dg.SkipReason(f"no accounts configured: {partitions.problem}")
        return
    tick = context.scheduled_execution_time
    stamp = tick.isoformat() if tick is not None else "manual"
    skipped = partitions.webhook_accounts if polling_only else frozenset()
    accounts = [a for a in partitions.names if a not in skipped]
    if not accounts:
        yield dg.SkipReason(
            "every account gets its changes by webhooks; the reconciliation sweep covers them"
        )
    for account in accounts:
        yield request(account, stamp)
