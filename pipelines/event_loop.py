"""The event loop the API work runs on: asyncio's own, one per run (`asyncio.run`).

The one rule for code on it: nothing blocks the loop. HTTP calls are awaited; every
database call (SQLAlchemy and psycopg are synchronous here) goes to a worker thread
(`asyncio.to_thread`), so pages keep arriving while a COPY or a commit runs.

uvloop and a garbage-collector freeze used to shave CPU off each call; at real API
latencies they gain nothing measurable (benchmarks/RESULTS.md, "Stock HTTP stack"), so
the standard loop runs everywhere, Windows included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion on a new asyncio event loop and return its result."""
    return asyncio.run(coroutine)
