"""Which configured account a webhook event belongs to.

Tampuuri names the account in each notification; a deployment may know it by its label
in the accounts file or by its Tampuuri account name (X-TiliNimi, one of its credentials,
read from the environment only when the label does not match).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pipelines.settings import AccountConfig, ConfigError


def find_event_account(
    accounts: Sequence[AccountConfig], name: str, environ: Mapping[str, str] | None
) -> AccountConfig | None:
    """The account an event belongs to: by label, else by its Tampuuri account name."""
    for account in accounts:
        if account.name == name:
            return account
    for account in accounts:
        try:
            if account.resolve_credentials(environ).account_name == name:
                return account
        except ConfigError:
            continue
    return None


def event_labels(
    accounts: Sequence[AccountConfig], names: Iterable[str], environ: Mapping[str, str] | None
) -> dict[str, str]:
    """Each event account name that is a configured account, as that account's label."""
    labels: dict[str, str] = {}
    for name in set(names):
        account = find_event_account(accounts, name, environ)
        if account is not None:
            labels[name] = account.name
    return labels
