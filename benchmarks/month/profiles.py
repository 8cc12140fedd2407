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
        list_rescan_period_days: the sweep's `budget.list_rescan_period_days`: the link
            list (no change-since filter; it carries the parties) is re-read in full once
            per this many days.
        on_drift: the sweep's `budget.on_drift`: "locate" searches a drifted list the
            same night, "wait" leaves it to the periodic read.
        target_s: a freshness target (issue 19.3): webhook events are released the way
            the product's window does it (`profiles/windows.py`): an account's waiting
            events of one route together, once the oldest of them is `target_s` old
            (`window_s` and `tick_s` then do not apply). None: the tick/window rule.
        cadence_days: the reconciliation cadence (issue 19.3): the profile's
            `reconcile_every_days` for every account-wide list (probes and change-since
            incrementals on one night in this many). None: every night.
    """

    name: str
    description: str
    nightly_full: bool = False
    webhooks: bool = False
    window_s: float = 5.0
    tick_s: float = 5.0
    reconcile_period_days: int = 0
    list_rescan_period_days: int = 7
    on_drift: str = "locate"
    target_s: float | None = None
    cadence_days: int | None = None


NAIVE = Profile("naive", "nightly full pull of all four resources, no webhooks", nightly_full=True)
INCREMENTAL = Profile(
    "incremental",
    "nightly incremental sync only (change-since where the catalogue has it), no webhooks",
)
DEFAULT = Profile(
    "default",
    "webhooks (product defaults: 5 s window, 5 s sensor) + nightly reconciliation sweep "
    "(probes, incrementals, drifted lists searched, cost centres and the link list "
    "re-read within 7 nights)",
    webhooks=True,
    reconcile_period_days=7,
)
DEFAULT_DAILY = Profile(
    "default-daily",
    "as default, but every cost centre's objects and the link list re-read every night",
    webhooks=True,
    reconcile_period_days=1,
    list_rescan_period_days=1,
)
FRUGAL = Profile(
    "frugal",
    "webhooks batched about hourly (1 min window, sensor every 59 min) + the reconciliation "
    "sweep with cost centres spread over 7 nights, the link list re-read (and drift "
    "settled) once in 30 days",
    webhooks=True,
    window_s=60.0,
    tick_s=3540.0,
    reconcile_period_days=7,
    list_rescan_period_days=30,
    on_drift="wait",
)
FRUGAL_MONTHLY = Profile(
    "frugal-monthly",
    "as frugal, but cost centres spread over 30 nights (the billing cycle)",
    webhooks=True,
    window_s=60.0,
    tick_s=3540.0,
    reconcile_period_days=30,
    list_rescan_period_days=30,
    on_drift="wait",
)
# The price of freshness: the default with webhooks batched every 5 and 15 minutes
# (not goals of the issue; they show where the calls go as the batches grow).
BATCHED_5MIN = Profile(
    "default-5min",
    "as default, but webhooks batched every 5 minutes",
    webhooks=True,
    window_s=0.0,
    tick_s=300.0,
    reconcile_period_days=7,
)
BATCHED_15MIN = Profile(
    "default-15min",
    "as default, but webhooks batched every 15 minutes",
    webhooks=True,
    window_s=0.0,
    tick_s=900.0,
    reconcile_period_days=7,
)
# Issue 19.3: freshness target + reconciliation cadence, measured against the floor
# (month/floor.py). Every list, every cost centre's objects and the link list once per
# cadence; drift left to the periodic read.
FLOOR_PROFILES = tuple(
    Profile(
        name,
        f"webhooks within {label}, everything reconciled {cadence}",
        webhooks=True,
        target_s=target,
        reconcile_period_days=days,
        list_rescan_period_days=days,
        on_drift="wait",
        cadence_days=days,
    )
    for name, label, target, cadence, days in (
        ("1min-daily", "1 min", 60.0, "daily", 1),
        ("15min-weekly", "15 min", 900.0, "weekly", 7),
        ("1h-monthly", "1 h", 3600.0, "monthly", 30),
    )
)
PROFILES = {
    p.name: p
    for p in (
        NAIVE,
        INCREMENTAL,
        DEFAULT,
        DEFAULT_DAILY,
        BATCHED_5MIN,
        BATCHED_15MIN,
        FRUGAL,
        FRUGAL_MONTHLY,
        *FLOOR_PROFILES,
    )
}
