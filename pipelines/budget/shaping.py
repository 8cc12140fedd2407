"""Budget-shaped fan-out scans: which cost centres to re-scan tonight.

`kohteet` has no change-since filter, so keeping it fresh means re-scanning every cost
centre. When the budget cannot pay for all of them in one night, each night scans the
stalest ones that fit, so that every cost centre is re-scanned within the account's
`full_scan_period_days`.

The guarantee: night d (the run's date) takes at least `nightly_share(n, period, d)` =
floor((k + 1) n / period) - floor(k n / period) scopes, k = d's day number mod period,
stalest first. Any `period` consecutive nights take exactly n between them (the sum
telescopes), so a night's share is floor or ceil of n / period and a cadence costs n
scans per period (ceil(n / period) every night would cost up to period - 1 more). It is
a round robin: a scope scanned tonight goes to the back of the queue with at most n - 1
scopes ahead of it, and the next `period` nights take at least n, so it comes up again
within `period` nights (a scope never scanned is first in line, so all are scanned
within the first period). That floor is taken even when the allowance is smaller
(coverage wins; the guard then decides whether the night's run fits at all; a night it
defers is not made up by the floor); beyond it, as many of the stalest scopes as fit the
allowance are added.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime


def nightly_share(n_scopes: int, period_days: int, night: date | None = None) -> int:
    """The fewest scopes night `night` must scan so that all are scanned within the period.

    Without `night`: the most any night takes, ceil(n / period).
    """
    if n_scopes <= 0:
        return 0
    period = max(1, period_days)
    if night is None:
        return math.ceil(n_scopes / period)
    k = night.toordinal() % period
    return (k + 1) * n_scopes // period - k * n_scopes // period


def _scope_key(scope: str) -> tuple[int, int | str]:
    # Cost-centre ids are numbers: sort them as numbers, anything else after them by text.
    return (0, int(scope)) if scope.isdigit() else (1, scope)


def staleness_order(last_full_scan: Mapping[str, datetime | None]) -> list[str]:
    """Scopes stalest first: never scanned, then oldest complete scan; ties by id."""
    return sorted(
        last_full_scan,
        key=lambda s: (
            last_full_scan[s] is not None,
            last_full_scan[s] or datetime.min,
            _scope_key(s),
        ),
    )


def choose_scopes(
    last_full_scan: Mapping[str, datetime | None],
    calls_per_scope: Mapping[str, int],
    *,
    allowance: int,
    period_days: int,
    now: datetime,
) -> list[str]:
    """Tonight's scopes: the stalest first, as many as fit `allowance` calls.

    At least tonight's `nightly_share` scopes are always chosen (the coverage floor, see
    the module docstring); after it, a scope that does not fit is skipped and smaller stale
    ones after it may still fit. The stalest skipped scope stays first in line.

    Args:
        last_full_scan: Each scope's last complete scan (None: never scanned).
        calls_per_scope: What scanning each scope costs (scopes missing here cost 1).
        allowance: Calls available for this fan-out tonight.
        period_days: Every scope must be scanned within this many nights.
        now: The time of the run (scans dated in the future count as just done).

    Returns:
        The chosen scopes, stalest first.
    """
    # A clock skew could date a scan after `now`; treat it as fresh, not as stalest.
    clamped = {s: (min(t, now) if t is not None else None) for s, t in last_full_scan.items()}
    order = staleness_order(clamped)
    share = nightly_share(len(order), period_days, now.date())
    chosen: list[str] = []
    spent = 0
    for position, scope in enumerate(order):
        cost = calls_per_scope.get(scope, 1)
        if position < share or spent + cost <= allowance:
            chosen.append(scope)
            spent += cost
    return chosen
