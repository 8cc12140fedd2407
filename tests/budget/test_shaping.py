"""Budget-shaped fan-out scans: stalest scopes first, within the allowance, and every
scope re-scanned within the period (simulated over 30 nights)."""

import itertools
import random
from datetime import UTC, date, datetime, timedelta

import pytest

from pipelines.budget.shaping import choose_scopes, nightly_share

NOW = datetime(2025, 6, 10, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("n", "period", "share"), [(0, 7, 0), (1, 7, 1), (7, 7, 1), (8, 7, 2), (40, 7, 6), (40, 1, 40)]
)
def test_nightly_share(n, period, share):
    assert nightly_share(n, period) == share


@pytest.mark.parametrize(("n", "period"), [(0, 7), (1, 7), (30, 7), (300, 7), (300, 30), (40, 1)])
def test_any_period_of_nights_shares_exactly_n(n, period):
    """Issue 19.3 (b): a night takes floor or ceil of n / period, and any `period`
    consecutive nights exactly n (30 cost centres weekly: 30 a week, not 7 x 5 = 35)."""
    shares = [nightly_share(n, period, date(2025, 1, 1) + timedelta(days=d)) for d in range(90)]
    assert set(shares) <= {n // period, -(-n // period)}
    assert all(sum(shares[d : d + period]) == n for d in range(90 - period + 1))


@pytest.mark.parametrize(("n", "period"), [(30, 7), (300, 7), (30, 30), (5, 7)])
def test_a_cadence_costs_n_scans_a_period(n, period):
    """All scanned on night 0 (a full sync), then at 0 allowance: 4 n scans in 4 periods
    (+ the first night's share) and no scope's gap over the period."""
    scopes = [str(i) for i in range(n)]
    last: dict[str, datetime | None] = dict.fromkeys(scopes, NOW)
    scanned_on: dict[str, list[int]] = {s: [0] for s in scopes}
    total = 0
    for night in range(1, 4 * period + 1):
        now = NOW + timedelta(days=night, minutes=(night * 37) % 90)  # the start time moves
        chosen = choose_scopes(last, {}, allowance=0, period_days=period, now=now)
        assert len(chosen) == nightly_share(n, period, now.date())
        total += len(chosen)
        for scope in chosen:
            last[scope] = now
            scanned_on[scope].append(night)
    assert total == 4 * n
    for nights in scanned_on.values():
        assert all(b - a <= period for a, b in itertools.pairwise(nights))


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
    # The coverage floor: with 5 scopes over 2 nights, 2 or 3 a night (5 in any 2 nights)
    # even at 0 calls.
    tomorrow = NOW + timedelta(days=1)
    assert [
        choose_scopes(last, calls, allowance=0, period_days=2, now=t) for t in (NOW, tomorrow)
    ] in ([["1", "10"], ["1", "10", "2"]], [["1", "10", "2"], ["1", "10"]])


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
        floor = nightly_share(n, period, now.date())
        assert len(chosen) >= floor
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


# ---- re-reads since the previous sweep (a webhook refresh's listing of a cost centre) ----


def _nights(n, period, nights, *, allowance=0, rereads=None, credit=True, jitter_min=0):
    """Simulate `nights` sweeps from a full load on night 0; `rereads(night)` -> the
    (scope, hours after that night's sweep) re-read before the next one. Returns each
    night's choice and every scope's read times."""
    scopes = [str(100 + i) for i in range(n)]
    calls = {s: 1 + (i * 5) % 3 for i, s in enumerate(scopes)}
    last: dict[str, datetime | None] = dict.fromkeys(scopes, NOW)
    reads: dict[str, list[datetime]] = {s: [NOW] for s in scopes}
    previous = NOW
    choices = []
    for night in range(1, nights + 1):
        start = NOW + timedelta(days=night, minutes=(night * 17) % (jitter_min + 1))
        since = previous if credit else None
        chosen = choose_scopes(
            last, calls, allowance=allowance, period_days=period, now=start, reread_since=since
        )
        choices.append(chosen)
        for scope in chosen:
            last[scope] = start
            reads[scope].append(start)
        previous = start
        for scope, hours in rereads(night) if rereads else []:
            at = start + timedelta(hours=hours)
            last[scope] = at
            reads[scope].append(at)
    return choices, reads


@pytest.mark.parametrize(
    ("n", "period", "allowance"), [(30, 7, 0), (300, 7, 0), (23, 5, 9), (40, 30, 3)]
)
def test_with_no_rereads_the_choice_is_todays(n, period, allowance):
    """No re-read since the previous sweep: night by night the same scopes as the round
    robin without credit (start times moving by less than the slack)."""
    with_credit, _ = _nights(n, period, 4 * period, allowance=allowance, jitter_min=50)
    without, _ = _nights(n, period, 4 * period, allowance=allowance, credit=False, jitter_min=50)
    assert with_credit == without


def test_rereads_count_toward_the_share_and_are_not_scanned_again():
    last = {str(i): NOW - timedelta(days=6 - i % 6, hours=1) for i in range(1, 13)}
    previous = NOW - timedelta(days=1)
    share = nightly_share(12, 7, NOW.date())
    plain = choose_scopes(last, {}, allowance=0, period_days=7, now=NOW, reread_since=previous)
    assert len(plain) == share
    # Two of tonight's picks were re-read by webhook listings during the day.
    for scope in plain[:2]:
        last[scope] = NOW - timedelta(hours=5)
    tonight = choose_scopes(last, {}, allowance=0, period_days=7, now=NOW, reread_since=previous)
    assert tonight == plain[2:share] and len(tonight) == share - 2


@pytest.mark.parametrize(("n", "period"), [(30, 7), (300, 7), (30, 30), (7, 7), (12, 2)])
def test_every_scope_is_reread_within_the_period_by_sweep_or_webhook(n, period):
    """Webhook listings at random hours of the day (one busy scope every day, others at
    random): every scope is read again within `period` days, and the sweep reads fewer."""
    rng = random.Random(f"{n}:{period}")
    scopes = [str(100 + i) for i in range(n)]

    def rereads(night: int) -> list[tuple[str, float]]:
        picks = [(scopes[-1], 12.0)] + [
            (rng.choice(scopes), rng.uniform(2, 22)) for _ in range(max(1, n // 10))
        ]
        return sorted(picks, key=lambda p: p[1])

    choices, reads = _nights(n, period, 6 * period, rereads=rereads)
    for times in reads.values():
        assert all(b - a <= timedelta(days=period) for a, b in itertools.pairwise(times))
    rng = random.Random(f"{n}:{period}")
    plain, _ = _nights(n, period, 6 * period, rereads=rereads, credit=False)
    assert sum(map(len, choices)) < sum(map(len, plain))


def test_a_scope_never_read_is_not_pushed_back_by_rereads():
    last: dict[str, datetime | None] = {"1": None, "2": None}
    last.update({str(i): NOW - timedelta(hours=3) for i in range(3, 15)})  # all re-read
    chosen = choose_scopes(
        last, {}, allowance=0, period_days=7, now=NOW, reread_since=NOW - timedelta(days=1)
    )
    assert chosen == ["1", "2"][: nightly_share(14, 7, NOW.date())]
