"""The sync strategies the month simulation compares (what runs when, in simulated time).

A profile is a schedule, not code: the runner drives the product's own pieces
(`run_sync`, the webhook inbox, `plan_refresh`, `refresh_targets`, `choose_scopes`)
according to it.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_RESOURCES = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")
# Resources whose list route has a change-since filter: an incremental scan costs ~1 call.
CHANGE_SINCE_RESOURCES = ("kustannuspaikat", "ilmoitukset")


@dataclass(frozen=True)
class Profile:
    """One strategy.

    Attributes:
        name: the label in tables and JSON.
        description: one line for the report.
        nightly_full: the nightly job re-reads everything without change-since filters.
        nightly_incremental: the nightly job runs the change-since scans
            (kustannuspaikat, ilmoitukset).
        webhooks: webhook events are processed (refresh of the rows they name).
        window_s: the coalescing window: an event is released once it is this old.
        tick_s: how often the inbox is looked at (the sensor interval).
        reconcile_period_days: 0 = every nightly job scans every cost centre's objects and
            the whole link list; N = budget-shaped: each night the stalest
            ceil(300 / N) cost centres (`budget.shaping.choose_scopes`), and the link list
            once every N nights.
    """

    name: str
    description: str
    nightly_full: bool = False
    nightly_incremental: bool = True
    webhooks: bool = False
    window_s: float = 30.0
    tick_s: float = 30.0
    reconcile_period_days: int = 0


NAIVE = Profile(
    "naive",
    "nightly full pull of all four resources, no webhooks",
    nightly_full=True,
)
INCREMENTAL = Profile(
    "incremental",
    "nightly incremental sync only (change-since where the catalogue has it), no webhooks",
)
DEFAULT = Profile(
    "default",
    "webhooks (30 s window, 30 s sensor) + nightly incremental + reconciliation spread "
    "over 7 nights (budget.full_scan_period_days default)",
    webhooks=True,
    reconcile_period_days=7,
)
DEFAULT_DAILY = Profile(
    "default-daily",
    "webhooks (30 s window, 30 s sensor) + nightly incremental + full reconciliation "
    "every night",
    webhooks=True,
    reconcile_period_days=1,
)
FRUGAL = Profile(
    "frugal",
    "webhooks batched hourly (5 min window, 50 min sensor) + nightly incremental + "
    "reconciliation spread over 7 nights",
    webhooks=True,
    window_s=300.0,
    tick_s=3000.0,
    reconcile_period_days=7,
)
PROFILES = {p.name: p for p in (NAIVE, INCREMENTAL, DEFAULT, DEFAULT_DAILY, FRUGAL)}
