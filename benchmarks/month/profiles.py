"""The sync strategies the month simulation compares (what runs when, in simulated time).

A profile is a schedule, not code: the runner drives the product's own pieces
(`run_sync`, `reconcile_account`, the webhook inbox and `process_inbox_once`) by it.
"""

from __future__ import annotations

from dataclasses import dataclass

ALL_RESOURCES = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")


@dataclass(frozen=True)
class Profile:
    """One strategy.

    Attributes:
        name: the label in tables and JSON.
        description: one line for the report.
        nightly_full: the nightly job re-reads everything without change-since filters.
        webhooks: webhook events are processed (refresh of the rows they name).
        window_s: the coalescing window: an event is released once it is this old.
        tick_s: how often the inbox is looked at (the sensor interval).
        reconcile_period_days: 0 = the nightly job is `run_sync` of everything
            (incremental where the catalogue allows); N = the nightly job is the product's
            reconciliation sweep with `budget.full_scan_period_days = N`.
    """

    name: str
    description: str
    nightly_full: bool = False
    webhooks: bool = False
    window_s: float = 5.0
    tick_s: float = 5.0
    reconcile_period_days: int = 0


NAIVE = Profile("naive", "nightly full pull of all four resources, no webhooks", nightly_full=True)
INCREMENTAL = Profile(
    "incremental",
    "nightly incremental sync only (change-since where the catalogue has it), no webhooks",
)
DEFAULT = Profile(
    "default",
    "webhooks (product defaults: 5 s window, 5 s sensor) + nightly reconciliation sweep "
    "(probes, incrementals, drifted lists re-scanned, cost centres spread over 7 nights)",
    webhooks=True,
    reconcile_period_days=7,
)
DEFAULT_DAILY = Profile(
    "default-daily",
    "as default, but every cost centre's objects re-scanned every night",
    webhooks=True,
    reconcile_period_days=1,
)
FRUGAL = Profile(
    "frugal",
    "webhooks batched (10 min window, sensor every 45 min) + the reconciliation sweep "
    "with cost centres spread over 7 nights",
    webhooks=True,
    window_s=600.0,
    tick_s=2700.0,
    reconcile_period_days=7,
)
# Not one of the profiles: how far the product gets towards Standard when the
# sweep spreads cost centres over a month and webhooks are batched just under an hour.
FRUGAL_MONTHLY = Profile(
    "frugal-monthly",
    "webhooks batched (1 min window, sensor every 59 min) + the reconciliation sweep "
    "with cost centres spread over 30 nights",
    webhooks=True,
    window_s=60.0,
    tick_s=3540.0,
    reconcile_period_days=30,
)
PROFILES = {p.name: p for p in (NAIVE, INCREMENTAL, DEFAULT, DEFAULT_DAILY, FRUGAL, FRUGAL_MONTHLY)}
