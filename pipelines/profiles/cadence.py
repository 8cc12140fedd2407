"""Which account-wide lists the reconciliation sweep looks at tonight (pure).

A list's cadence (the profile's `reconcile_every_days`, stretched while the budget is
tight) of N days means: probed on the nights whose local date (billing timezone) counts a
multiple of N days since 0001-01-01. No state is needed, and every list is looked at at
least once in any N consecutive nights.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from pipelines.settings import AccountConfig


def lists_due(account: AccountConfig, probed: Mapping[str, str], now: datetime) -> list[str]:
    """The catalogue lists of `probed` (list -> synced resource) due at `now`."""
    day = now.astimezone(ZoneInfo(account.budget.billing_timezone)).date().toordinal()
    profile = account.effective_profile
    return [name for name, resource in probed.items() if day % profile.cadence(resource) == 0]
