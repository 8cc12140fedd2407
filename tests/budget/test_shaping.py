"""Budget-shaped fan-out scans: stalest scopes first, within the allowance, and every
scope re-scanned within the period (simulated over 30 nights)."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.budget.shaping import choose_scopes, nightly_share

NOW = datetime(2025, 6, 10, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("n", "period", "share"), [(0, 7, 0), (1, 7, 1), (7, 7, 1), (8, 7, 2), (40, 7, 6), (40, 1, 40)]
)
def test_nightly_share(n, period, share):
    assert nightly_share(n, period) == share


def test_stalest_first_within_allowance():
    last = {
        "3": NOW - timedelta(days=1),
        "1": None,
        "2": NOW - timedelta(days=5),
        "10": None,
        "4": NOW - timedelta(days=3),
    }
    calls = {"1": 2, "10": 1, "2": 3, "3": 1, "4": 1}
    # Never scanned first (by id as a number), then oldest; "2" (3 calls) does not fit
    # after 1+10 (3 calls) in 5, but "4" and "3" (1 each) do.
    assert choose_scopes(last, calls, allowance=5, period_days=30, now=NOW) == ["1", "10", "4", "3"]
    assert choose_scopes(last, calls, allowance=100, period_days=30, now=NOW) == [
        "1",
        "10",
        "2",
        "4",
        "3",
    ]
    # The coverage floor: with 5 scopes over 2 nights, at least 3 a night even at 0 calls.
    assert choose_scopes(last, calls, allowance=0, period_days=2, now=NOW) == ["1", "10", "2"]


@pytest.mark.parametrize(
    ("n", "period", "allowance"), [(40, 7, 0), (40, 7, 9), (23, 5, 12), (100, 30, 5), (12, 7, 1000)]
)
def test_every_scope_within_the_period_over_30_nights(n, period, allowance):
    scopes = [str(1000 + i) for i in range(n)]
    calls = {s: 1 + (i * 7) % 4 for i, s in enumerate(scopes)}  # 1 to 4 calls each
    last: dict[str, datetime | None] = dict.fromkeys(scopes)
    scanned_on: dict[str, list[int]] = {s: [] for s in scopes}
    for night in range(30):
        now = NOW + timedelta(days=night)
        chosen = choose_scopes(last, calls, allowance=allowance, period_days=period, now=now)
        assert len(chosen) >= nightly_share(n, period)
        floor = nightly_share(n, period)
        assert sum(calls[s] for s in chosen[floor:]) <= max(
            0, allowance - sum(calls[s] for s in chosen[:floor])
        )
        for scope in chosen:
            last[scope] = now
            scanned_on[scope].append(night)
    for nights in scanned_on.values():
        # First scan within the period, then no gap longer than the period.
        assert nights and nights[0] < period
        assert all(b - a <= period for a, b in itertools.pairwise(nights))
        assert 29 - nights[-1] < period
