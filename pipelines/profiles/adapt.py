"""One evaluation of every account's profile against its forecast: step, store, log.

The forecast is the one `tampuuri-sync budget` and the assets show (`month_usage`: the
ledger's calls this billing cycle, projected linearly to the cycle's end). A step changes
the account's webhook window (the sensor reads it on its next tick) and the stretch of
its reconciliation (`loosened_account`, used by the sweep).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Engine

from pipelines.budget.month_usage import month_usage
from pipelines.profiles.adaptive import Loosening, at_level, next_step
from pipelines.profiles.state import (
    StoredAdjustment,
    latest_adjustments,
    lock_adjustments,
    record_adjustment,
)
from pipelines.settings import AccountConfig
from pipelines.settings.profiles import Profile, ProfileOverrides


@dataclass(frozen=True)
class AccountProfile:
    """An account's profile as it applies now.

    Attributes:
        effective: the named profile with the account's overrides and budget keys.
        loosening: the level it is loosened to, with the window and stretch in force.
        forecast: calls forecast for the billing cycle; package_calls: the package's.
        reason, changed_at: the last change's (None: never adjusted).
        changed_now: this evaluation took a step.
    """

    account: str
    profile: str
    effective: Profile
    loosening: Loosening
    forecast: int
    package_calls: int
    reason: str | None = None
    changed_at: datetime | None = None
    changed_now: bool = False


def _evaluate(
    conn: Connection,
    account: AccountConfig,
    stored: StoredAdjustment | None,
    *,
    now: datetime,
    step: bool,
) -> tuple[AccountProfile, StoredAdjustment | None]:
    profile = account.effective_profile
    usage = month_usage(conn, account, now)
    level = stored.level if stored else 0
    current = AccountProfile(
        account=account.name,
        profile=account.profile,
        effective=profile,
        loosening=at_level(profile, level),
        forecast=usage.forecast,
        package_calls=usage.included,
        reason=stored.reason if stored else None,
        changed_at=stored.changed_at if stored else None,
    )
    change = (
        next_step(
            profile,
            level=level,
            forecast=usage.forecast,
            package_calls=usage.included,
            last_change_at=stored.changed_at if stored else None,
            now=now,
        )
        if step
        else None
    )
    if change is None:
        return current, None
    record = StoredAdjustment(
        account=account.name,
        profile=account.profile,
        level=change.after.level,
        webhook_window_s=change.after.webhook_window_s,
        reconcile_stretch=change.after.stretch,
        forecast_calls=usage.forecast,
        package_calls=usage.included,
        reason=change.reason,
        changed_at=now,
    )
    after = replace(
        current, loosening=change.after, reason=change.reason, changed_at=now, changed_now=True
    )
    return after, record


def adapt_accounts(
    engine: Engine,
    accounts: Sequence[AccountConfig],
    *,
    now: datetime,
    log: Callable[[str], None] | None = None,
) -> dict[str, AccountProfile]:
    """Evaluate each account, store and log each step taken; the profiles as they now apply."""
    out: dict[str, AccountProfile] = {}
    if not accounts:
        return out
    with engine.begin() as conn:
        lock_adjustments(conn)
        stored = latest_adjustments(conn, [a.name for a in accounts])
        for account in accounts:
            applied, record = _evaluate(conn, account, stored.get(account.name), now=now, step=True)
            if record is not None:
                record_adjustment(conn, record)
                if log is not None:
                    log(f"{account.name} ({account.profile} profile): {record.reason}")
            out[account.name] = applied
    return out


def current_profiles(
    conn: Connection, accounts: Sequence[AccountConfig], *, now: datetime
) -> dict[str, AccountProfile]:
    """Each account's profile as it applies now, without taking a step (for reports)."""
    stored = latest_adjustments(conn, [a.name for a in accounts])
    return {
        a.name: _evaluate(conn, a, stored.get(a.name), now=now, step=False)[0] for a in accounts
    }


def loosened_account(account: AccountConfig, loosening: Loosening) -> AccountConfig:
    """The account as the sweep sees it at `loosening`: its probe cadences, full-scan and
    list re-read periods stretched (level 0: the account unchanged)."""
    if loosening.level == 0 or loosening.stretch == 1.0:
        return account
    profile = account.effective_profile
    budget = account.budget.model_copy(
        update={
            "full_scan_period_days": loosening.stretched_days(profile.full_scan_period_days),
            "list_rescan_period_days": loosening.stretched_days(profile.list_rescan_period_days),
        }
    )
    base = account.profile_overrides or ProfileOverrides()
    cadence = {r: loosening.stretched_days(d) for r, d in profile.reconcile_every_days.items()}
    overrides = base.model_copy(update={"reconcile_every_days": cadence})
    return account.model_copy(update={"budget": budget, "profile_overrides": overrides})
