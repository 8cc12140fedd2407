"""The retry contract (pure): which outcomes are retried, the backoff bounds (full jitter,
exponential, capped), Retry-After parsing, and the per-run retry budget."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from pipelines.tampuuri.errors import RetryBudgetExceeded
from pipelines.tampuuri.retry import (
    InvalidJSONBody,
    RetryBudget,
    RetryPolicy,
    classify,
    parse_retry_after,
)

_REQUEST = httpx.Request("GET", "http://x/v10/api/kohteet/1")


@pytest.mark.parametrize(
    ("outcome", "decision"),
    [
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (599, "retry"),
        (200, "final"),
        (400, "final"),
        (401, "final"),
        (403, "final"),
        (404, "final"),
        (409, "final"),
        (httpx.ReadTimeout("t", request=_REQUEST), "retry"),
        (httpx.ConnectTimeout("t", request=_REQUEST), "retry"),
        (httpx.PoolTimeout("t", request=_REQUEST), "retry"),
        (httpx.ConnectError("refused", request=_REQUEST), "retry"),
        (httpx.RemoteProtocolError("reset", request=_REQUEST), "retry"),
        (InvalidJSONBody(200), "retry"),
        (httpx.DecodingError("bad gzip", request=_REQUEST), "retry"),
        (httpx.UnsupportedProtocol("ftp", request=_REQUEST), "final"),
        (ValueError("bug"), "final"),
    ],
)
def test_classify(outcome: int | BaseException, decision: str) -> None:
    assert classify(outcome) == decision


def test_backoff_is_exponential_full_jitter_and_capped() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_initial_s=0.5, backoff_max_s=10)
    assert [policy.ceiling(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 10, 10]
    rng = random.Random(7)
    for retry_number in range(1, 10):
        waits = [policy.delay(retry_number, rng=rng) for _ in range(200)]
        assert all(0 <= w <= policy.ceiling(retry_number) for w in waits)
        # Full jitter spreads over the whole range, not just near the ceiling.
        assert min(waits) < policy.ceiling(retry_number) * 0.1
        assert max(waits) > policy.ceiling(retry_number) * 0.9
    assert policy.ceiling(10_000) == 10  # no overflow on absurd retry numbers


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(backoff_initial_s=0.5, backoff_max_s=30)
    assert policy.delay(1, 2.5) == 2.5
    assert policy.delay(4, 0.0) == 0.0
    assert policy.delay(1, 3600) == 30


def test_parse_retry_after() -> None:
    now = datetime(2025, 4, 20, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Sun, 20 Apr 2025 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Sun, 20 Apr 2025 11:00:00 GMT", now=now) == 0.0
    for bad in (None, "", "soon", "-1", "nan"):
        assert parse_retry_after(bad) is None


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(backoff_initial_s=-1)


def test_retry_budget_is_spent_then_refuses() -> None:
    budget = RetryBudget(2)
    budget.take(account="demo-a", method="GET", route="kustannuspaikat/selaa")
    budget.take(account="demo-a", method="GET", route="kustannuspaikat/selaa")
    assert (budget.used, budget.remaining) == (2, 0)
    with pytest.raises(RetryBudgetExceeded) as caught:
        budget.take(account="demo-a", method="GET", route="kustannuspaikat/selaa", status=503)
    assert str(caught.value) == (
        "account 'demo-a': GET kustannuspaikat/selaa -> 503: retry cap of 2 per run spent"
    )
    assert budget.used == 2


def test_zero_budget_allows_no_retry() -> None:
    with pytest.raises(RetryBudgetExceeded):
        RetryBudget(0).take(account="a", method="GET", route="r")
