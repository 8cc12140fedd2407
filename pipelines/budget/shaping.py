"""Budget-shaped fan-out scans: which cost centres to re-scan tonight.

`kohteet` has no change-since filter, so keeping it fresh means re-scanning every cost
centre. When the budget cannot pay for all of them in one night, each night scans the
stalest ones that fit, so that every cost centre is re-scanned within the account's
`full_scan_period_days`.

The guarantee: taking at least `nightly_share(n, period)` = ceil(n / period) scopes each
night, stalest first, is a round robin: a scope scanned tonight goes to the back of the
queue with at most n - 1 scopes ahead of it, and each night removes at least
ceil(n / period) from the front, so it comes up again within ceil(n / ceil(n / period))
≤ period nights. That floor is taken even when the allowance is smaller (coverage wins;
the guard then decides whether the night's run fits at all); beyond it, as many of the
stalest scopes as fit the allowance are added.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime


def nightly_share(n_scopes: int, period_days: int) -> int:
    """The fewest scopes a night must scan so that all are scanned within the period."""
    if n_scopes <= 0:
        return 0
    return math.ceil(n_scopes / max(1, period_days))


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

    At least `nightly_share` scopes are always chosen (the coverage floor, see the module
    docstring); after the floor, a scope that does not fit is skipped and smaller stale
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
    floor = nightly_share(len(order), period_days)
    chosen: list[str] = []
    spent = 0
    for position, scope in enumerate(order):
        cost = calls_per_scope.get(scope, 1)
        if position < floor or spent + cost <= allowance:
            chosen.append(scope)
            spent += cost
    return chosen
