"""The server-side transaction report: every API request counted, failures included.

This is the truth the product's own call ledger is checked against, so it counts per
(account, method, route template, status) exactly once per request, whatever happened.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class TransactionCounter:
    """Thread-safe counters keyed by (account, method, route, status)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str, int]] = Counter()

    def record(self, account: str, method: str, route: str, status: int) -> None:
        with self._lock:
            self._counts[(account, method, route, status)] += 1

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def rows(self, account: str | None = None) -> list[dict[str, Any]]:
        """Rows sorted by account, route, method, status; `account` narrows to one account."""
        with self._lock:
            items = sorted(
                self._counts.items(), key=lambda kv: (kv[0][0], kv[0][2], kv[0][1], kv[0][3])
            )
        return [
            {"account": a, "method": m, "route": r, "status": s, "count": n}
            for (a, m, r, s), n in items
            if account is None or a == account
        ]

    def total(self, account: str | None = None) -> int:
        return sum(row["count"] for row in self.rows(account))
