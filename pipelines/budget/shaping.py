"""Budget-shaped fan-out scans: which cost centres to re-scan tonight.

`kohteet` has no change-since filter, so keeping it fresh means re-reading every cost
centre. When the budget cannot pay for all of them in one night, each night scans the
stalest ones that fit, so that every cost centre is re-read within the account's
`full_scan_period_days` (P).

Today's rule (`reread_since` None: no sweep before, or a caller without one): night d (the
run's date) takes at least `nightly_share(n, P, d)` = floor((k + 1) n / P) - floor(k n / P)
scopes, k = d's day number mod P, stalest first. Any P consecutive nights take exactly n
between them (the sum telescopes), so a night's share is floor or ceil of n / P and a
cadence costs n scans per period (ceil(n / P) every night would cost up to P - 1 more).
It is a round robin: a scope scanned tonight goes to the back of the queue with at most
n - 1 scopes ahead of it, and the next P nights take at least n, so it comes up again
within P nights (a scope never scanned is first in line, so all are scanned within the
first period). That floor is taken even when the allowance is smaller (coverage wins; the
guard then decides whether the night's run fits at all; a night it defers is not made up
by the floor); beyond it, as many of the stalest scopes as fit the allowance are added.

Re-reads since the previous sweep (`reread_since`: a webhook refresh's complete listing
of a cost centre, `webhooks/refresh_strategies`, stamps `last_full_scan_at` as a nightly
scan does) count toward tonight's share and are not scanned again: tonight takes
max(share - f, its never-scanned scopes among the first share) of the other scopes,
stalest first, f the scopes re-read since `reread_since`. A re-read need not come from
the front of the queue (one busy cost centre may be re-read every day), so the round robin
alone no longer proves coverage; instead every scope whose period would run out before
the next night is always taken (`due`: its last read + P days is before tonight + 1 day -
`SWEEP_SLACK`). The guarantee, by sweep or by re-read:

- Every scope read once is read again within P days: while it is not due the next night
  still comes before its period runs out; on the night it is due it is taken (the rule
  wins over the share, the allowance and a re-read, `due` first). A re-read made in the
  last `SWEEP_SLACK` before a sweep may wait up to that much longer (the slack keeps a
  sweep starting a little later than the previous one from taking a scope a night early).
- A scope never read is first in line and its night's share is never given to re-reads,
  so the never-read are read as fast as today's rule reads them.
- With no re-reads (f = 0) the rule is today's: the first `share` stalest are taken, and
  a due scope is one whose round robin turn is tonight (scanned P nights ago, never more
  under today's rule), so it is among them or an allowance pick; the choices are the
  same night by night (tests/budget/test_shaping.py simulates both). Only a backlog
  today's rule left behind (a scope already past its period, e.g. after nights without a
  sweep) is read at once rather than share by share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta

# How much later than the previous one a sweep may start without taking a scope a night
# early (the nightly schedule's start jitter; see the module docstring).
SWEEP_SLACK = timedelta(hours=1)


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


def is_due(last: datetime | None, *, period_days: int, now: datetime) -> bool:
    """Whether a scope last read at `last` must be read tonight: its period runs out
    before the next night (`now` + 1 day, less `SWEEP_SLACK`). Never read: not due (first
    in line instead)."""
    if last is None:
        return False
    return last + timedelta(days=max(1, period_days)) < now + timedelta(days=1) - SWEEP_SLACK


def choose_scopes(
    last_full_scan: Mapping[str, datetime | None],
    calls_per_scope: Mapping[str, int],
    *,
    allowance: int,
    period_days: int,
    now: datetime,
    reread_since: datetime | None = None,
) -> list[str]:
    """Tonight's scopes: the stalest first, as many as fit `allowance` calls.

    At least tonight's `nightly_share` scopes are always chosen (the coverage floor, see
    the module docstring); after it, a scope that does not fit is skipped and smaller stale
    ones after it may still fit. The stalest skipped scope stays first in line. With
    `reread_since`, scopes read after it count toward the share and are not chosen, and
    every due scope (`is_due`) is.

    Args:
        last_full_scan: Each scope's last complete scan (None: never scanned).
        calls_per_scope: What scanning each scope costs (scopes missing here cost 1).
        allowance: Calls available for this fan-out tonight.
        period_days: Every scope must be scanned within this many nights.
        now: The time of the run (scans dated in the future count as just done).
        reread_since: The previous sweep's end: complete reads after it (a webhook
            refresh's listing) are re-reads; None: no credit, today's round robin.

    Returns:
        The chosen scopes, stalest first.
    """
    # A clock skew could date a scan after `now`; treat it as fresh, not as stalest.
    clamped = {s: (min(t, now) if t is not None else None) for s, t in last_full_scan.items()}
    order = staleness_order(clamped)
    share = nightly_share(len(order), period_days, now.date())
    if reread_since is None:
        return _take(order, calls_per_scope, share, allowance, lambda scope: False)
    reread = {s for s in order if (t := clamped[s]) is not None and t > reread_since}
    never = sum(1 for s in order[:share] if clamped[s] is None)
    quota = max(share - len(reread), never)

    def due(scope: str) -> bool:
        return is_due(clamped[scope], period_days=period_days, now=now)

    waiting = [s for s in order if s not in reread or due(s)]
    return _take(waiting, calls_per_scope, quota, allowance, due)


def _take(
    order: list[str],
    calls_per_scope: Mapping[str, int],
    quota: int,
    allowance: int,
    due: Callable[[str], bool],
) -> list[str]:
    """The first `quota` of `order`, every `due` one, then those that fit `allowance`."""
    chosen: list[str] = []
    spent = 0
    for position, scope in enumerate(order):
        cost = calls_per_scope.get(scope, 1)
        if position < quota or due(scope) or spent + cost <= allowance:
            chosen.append(scope)
            spent += cost
    return chosen
