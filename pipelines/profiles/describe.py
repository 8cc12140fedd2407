"""An account's profile and its adjustment, said for `tampuuri-sync budget` and Dagster."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from pipelines.profiles.adapt import AccountProfile


def in_force(applied: AccountProfile) -> str:
    """What the profile does now, adjustment included, in one line."""
    profile, loose = applied.effective, applied.loosening
    every = profile.reconcile_every_days.items()
    cadence = ", ".join(f"{name} {loose.stretched_days(days)} d" for name, days in every)
    return (
        f"{applied.profile}: webhook changes within {loose.webhook_window_s:,.0f} s;"
        f" lists probed every {cadence};"
        f" objects re-scanned within {loose.stretched_days(profile.full_scan_period_days)} d;"
        f" links re-read every {loose.stretched_days(profile.list_rescan_period_days)} d;"
        f" on drift {profile.on_drift}; {profile.reserve_for_webhooks:.0%} kept for webhooks"
    )


def adjustment(applied: AccountProfile) -> str:
    """The adjustment in force and why; 'as written' when the profile is not loosened."""
    loose = applied.loosening
    limits = applied.effective.adaptive
    if applied.reason is None or applied.changed_at is None:
        return (
            f"as written (forecast {applied.forecast:,} of the package's"
            f" {applied.package_calls:,}; may widen to {limits.max_webhook_window_s:,.0f} s"
            f" and stretch x{limits.max_reconcile_stretch:g})"
        )
    state = "as written" if loose.level == 0 else f"loosened, level {loose.level} of {loose.steps}"
    return f"{state} since {applied.changed_at:%Y-%m-%d %H:%M %Z}: {applied.reason}"


def profile_metadata(applied: AccountProfile) -> dict[str, str]:
    """Asset metadata: the profile in force, its adjustment, and the cycle's forecast."""
    return {
        "profile": in_force(applied),
        "profile_adjustment": adjustment(applied),
        "forecast_this_cycle": f"{applied.forecast:,} of {applied.package_calls:,} calls",
    }


def profile_table(applied: AccountProfile) -> Table:
    """The `budget` table of the account's profile and its adjustment."""
    table = Table(title=f"{applied.account}: profile")
    table.add_column("")
    table.add_column("value")
    table.add_row("in force", in_force(applied))
    table.add_row("adjustment", adjustment(applied))
    return table


def profile_document(applied: AccountProfile) -> dict[str, Any]:
    """The profile in `budget --json`."""
    return {
        "name": applied.profile,
        "level": applied.loosening.level,
        "webhook_window_s": applied.loosening.webhook_window_s,
        "reconcile_stretch": applied.loosening.stretch,
        "in_force": in_force(applied),
        "adjustment": adjustment(applied),
        "changed_at": applied.changed_at.isoformat() if applied.changed_at else None,
    }
