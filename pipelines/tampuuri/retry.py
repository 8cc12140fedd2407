"""The one place errors are sorted into retriable and final, and the backoff between tries.

Retriable: 429, 5xx, timeouts and other transport failures, and a 2xx whose body is not
valid JSON (a truncated response). Everything else is final, TLS certificate failures
included (network_options.certificate_failure). Every retry is a billed call,
so a whole run shares one `RetryBudget`: when it is spent the run stops cleanly instead of
burning the monthly package on a failing service.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

from pipelines.tampuuri.errors import RetryBudgetExceeded
from pipelines.tampuuri.network_options import certificate_failure

Decision = Literal["retry", "final"]


class InvalidJSONBody(Exception):
    """A 2xx response whose body did not parse (truncated): retriable, like a 5xx."""

    def __init__(self, status: int) -> None:
        super().__init__(f"{status} response body is not valid JSON")
        self.status = status


def classify(outcome: int | BaseException) -> Decision:
    """Sort one attempt's outcome.

    Args:
        outcome: The HTTP status of the response, or the exception the attempt raised.

    Returns:
        "retry" for 429, 5xx, timeouts, transport errors and invalid JSON; else "final".
    """
    if isinstance(outcome, BaseException):
        if isinstance(outcome, httpx.UnsupportedProtocol):
            return "final"  # a wrong base URL: no retry will fix it
        if certificate_failure(outcome) is not None:
            return "final"  # a certificate not verified (or refused): the same next time
        # A body that fails to decode (truncated gzip) is the same fault as truncated JSON.
        retriable = httpx.TransportError | httpx.DecodingError | InvalidJSONBody
        if isinstance(outcome, retriable):
            return "retry"
        return "final"
    if outcome == 429 or 500 <= outcome <= 599:
        return "retry"
    return "final"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one call is retried.

    Attributes:
        max_attempts: Tries per call, the first one included.
        backoff_initial_s: The first retry waits up to this long.
        backoff_max_s: No wait is longer, a server's Retry-After included.
    """

    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_initial_s < 0 or self.backoff_max_s < 0:
            raise ValueError("backoff times must not be negative")

    def ceiling(self, retry_number: int) -> float:
        """The exponential ceiling before jitter for the n-th retry (1-based)."""
        exponent = min(max(retry_number - 1, 0), 60)  # 2**60 s is forever; avoid overflow
        return float(min(self.backoff_max_s, self.backoff_initial_s * 2**exponent))

    def delay(
        self,
        retry_number: int,
        retry_after_s: float | None = None,
        *,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before the n-th retry.

        A server's Retry-After wins (capped at `backoff_max_s`); otherwise exponential
        backoff with full jitter: uniform between 0 and the ceiling, so that many clients
        failing together do not come back together.
        """
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.backoff_max_s)
        return (rng or random).uniform(0.0, self.ceiling(retry_number))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """A Retry-After header as seconds: a (possibly fractional) number or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if seconds >= 0 and seconds == seconds else None  # NaN is not a delay


class RetryBudget:
    """Retries a whole run may spend; shared by every client and scan of the run.

    Args:
        cap: How many retries in total.
    """

    def __init__(self, cap: int) -> None:
        if cap < 0:
            raise ValueError("cap must not be negative")
        self.cap = cap
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    @property
    def remaining(self) -> int:
        return self.cap - self._used

    def take(self, *, account: str, method: str, route: str, status: int | None = None) -> None:
        """Spend one retry.

        Raises:
            RetryBudgetExceeded: the cap is spent; the retry must not be made.
        """
        with self._lock:
            if self._used >= self.cap:
                raise RetryBudgetExceeded(
                    account=account,
                    method=method,
                    route=route,
                    status=status,
                    api_message=f"retry cap of {self.cap} per run spent",
                )
            self._used += 1
