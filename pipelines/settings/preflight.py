"""Everything a sync reads, validated before the first account's first call.

A run reads its settings account by account; checked only then, a bad value for the
second account would stop the command after the first had spent calls. `check_sync_settings`
reads them all up front, so that a bad setting anywhere stops the command before its first
call (and before any connection to the warehouse).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from pipelines.settings.accounts import AccountConfig
from pipelines.settings.sync import load_sync_settings


def check_sync_settings(
    accounts: Sequence[AccountConfig], environ: Mapping[str, str] | None = None
) -> None:
    """Load sync.yaml, the route catalogue and packages.yaml, and each account's
    credentials and network options (CA bundle, client certificate, proxy).

    Raises:
        ConfigError: the first setting found wrong, named by its file (or variable) and key.
    """
    # Imported here: these modules import pipelines.settings themselves.
    from pipelines.budget.packages import load_packages, package_for
    from pipelines.tampuuri.catalogue import load_catalogue
    from pipelines.tampuuri.network_options import transport_options

    env = os.environ if environ is None else environ
    load_sync_settings()
    load_catalogue()
    packages = load_packages()
    for account in accounts:
        package_for(account, packages)
        account.resolve_credentials(env)
        transport_options(account.network, account.base_url, account=account.name)
