"""How far an account's profile is loosened, and the step the forecast calls for (pure).

Level 0 is the profile as written; level `steps` is its adaptive limits (the widest
webhook window, the longest stretch of its reconciliation). In between, the window and the
stretch move linearly. While the forecast for the billing cycle is over the package's
included calls, each evaluation moves one level up; once it is below `tighten_below` of
them, one level down; in between it holds (so that a loosened account whose forecast now
just fits does not swing back and forth). At most one step per `step_every_s`, so that
the forecast sees the effect of a step before the next. This happens before the budget
guard would trim a nightly run: the guard acts on calls already spent, this on the trend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from pipelines.settings.profiles import Profile


@dataclass(frozen=True)
class Loosening:
    """The profile's values at one level: the webhook window and the reconcile stretch."""

    level: int
    steps: int
    webhook_window_s: float
    stretch: float

    def stretched_days(self, days: int) -> int:
        """A cadence or period in days, stretched (rounded up)."""
        return math.ceil(days * self.stretch - 1e-9)


def at_level(profile: Profile, level: int) -> Loosening:
    """The window and stretch of `profile` loosened to `level` (clamped to 0..steps)."""
    limits = profile.adaptive
    level = max(0, min(level, limits.steps))
    share = level / limits.steps
    window = profile.webhook_window_s + share * (
        limits.max_webhook_window_s - profile.webhook_window_s
    )
    stretch = 1.0 + share * (limits.max_reconcile_stretch - 1.0)
    return Loosening(level, limits.steps, round(window, 3), round(stretch, 4))


@dataclass(frozen=True)
class Step:
    """A change of level, and why (a sentence with the numbers)."""

    before: Loosening
    after: Loosening
    reason: str


def next_step(
    profile: Profile,
    *,
    level: int,
    forecast: int,
    package_calls: int,
    last_change_at: datetime | None,
    now: datetime,
) -> Step | None:
    """The step up or down `forecast` calls for, or None (hold)."""
    limits = profile.adaptive
    if last_change_at is not None and (now - last_change_at).total_seconds() < limits.step_every_s:
        return None
    before = at_level(profile, level)
    floor = math.floor(limits.tighten_below * package_calls)
    if forecast > package_calls and before.level < limits.steps:
        after = at_level(profile, before.level + 1)
        why = f"forecast {forecast:,} calls this cycle is over the package's {package_calls:,}"
        verb = "widened"
    elif forecast < floor and before.level > 0:
        after = at_level(profile, before.level - 1)
        why = (
            f"forecast {forecast:,} calls this cycle is below {limits.tighten_below:.0%}"
            f" of the package's {package_calls:,} ({floor:,})"
        )
        verb = "tightened"
    else:
        return None
    reason = (
        f"{why}: webhook window {verb} {before.webhook_window_s:,.0f} s ->"
        f" {after.webhook_window_s:,.0f} s, reconciliation stretched x{before.stretch:g} ->"
        f" x{after.stretch:g} (level {after.level} of {after.steps})"
    )
    return Step(before, after, reason)
