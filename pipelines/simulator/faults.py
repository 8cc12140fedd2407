"""Fault injection, deterministic by seed: errors, 429s, latency, hangs, truncation, drift.

Each API request draws its fault decisions from one `random.Random(seed)` in a fixed
order, so a given sequence of requests meets the same faults on every run. A drawn drift
is only a chance: `take_drift` decides, for a list page past the first, whether the list
drifts now and how (`drift_patterns`, `drift_repeat`, `drift_resources`, `drift_max`);
`drift.py` applies it and the injector keeps the log of what it changed (`/_sim/drift`).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from pipelines.simulator.config import FaultConfig


@dataclass(frozen=True)
class FaultDecision:
    hang_s: float = 0.0
    latency_s: float = 0.0
    error_status: int | None = None
    rate_limited: bool = False
    truncate: bool = False
    drift: bool = False


NO_FAULT = FaultDecision()


class FaultInjector:
    """Holds the current fault settings and draws a decision per request."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        return self._config

    def configure(self, config: FaultConfig) -> None:
        """New settings: the draws start again from the seed and the drift log empties."""
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._pattern_rng = random.Random(f"{config.seed}:drift-pattern")
            self._streak = 0  # drifted list pages still owed by the current drift
            self._drifted = 0
            self.drift_log: list[dict[str, Any]] = []

    def take_drift(self, resource: str) -> str | None:
        """The pattern a list page past the first whose request drew a drift drifts by now.

        None when the list may not drift (`drift_resources`, `drift_max`). A drift that
        starts goes on for `drift_repeat - 1` more such pages of the drifting lists.
        """
        c = self._config
        with self._lock:
            if c.drift_resources and resource not in c.drift_resources:
                return None
            if c.drift_max and self._drifted >= c.drift_max:
                return None
            if self._streak > 0:
                self._streak -= 1
            else:
                self._streak = c.drift_repeat - 1
            self._drifted += 1
            return self._pattern_rng.choice(c.drift_patterns)

    def record_drift(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.drift_log.append(event)

    def retry_after_header(self) -> str:
        value = self._config.retry_after_s
        # Integer seconds as the HTTP spec writes them; fractions as "0.01" (sped-up tests).
        return str(int(value)) if float(value).is_integer() else f"{value:g}"

    def decide(self, *, is_list_page: bool) -> FaultDecision:
        c = self._config
        if not (c.error_rate or c.rate_limit_rate or c.latency_ms or c.hang_rate
                or c.truncate_rate or c.drift_rate):  # fmt: skip
            return NO_FAULT
        with self._lock:
            rng = self._rng
            hang = rng.random() < c.hang_rate
            error = rng.random() < c.error_rate
            status = rng.choice(c.error_statuses) if c.error_statuses else 500
            limited = rng.random() < c.rate_limit_rate
            truncate = rng.random() < c.truncate_rate
            # A drift in progress drifts the next list page whatever this draw says.
            drift = rng.random() < c.drift_rate or self._streak > 0
        return FaultDecision(
            hang_s=c.hang_s if hang else 0.0,
            latency_s=c.latency_ms / 1000.0,
            error_status=status if error else None,
            rate_limited=limited and not error,
            truncate=truncate,
            drift=drift and is_list_page,
        )
