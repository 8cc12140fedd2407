"""Counting the calls (and retries) one piece of work makes on a shared client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["CallTally", "current_tally", "tally_calls"]


@dataclass
class CallTally:
    """Calls (and retries) made inside one `tally_calls` context."""

    calls: int = 0
    retries: int = 0


_TALLY: ContextVar[CallTally | None] = ContextVar("tampuuri_call_tally", default=None)


def current_tally() -> CallTally | None:
    """The innermost `tally_calls` context's tally, if any."""
    return _TALLY.get()


@contextmanager
def tally_calls() -> Iterator[CallTally]:
    """Count the calls made in this context and in the tasks it starts.

    One client serves a whole run, so its own counters mix resources that run side by
    side; each resource counts its own calls this way (asyncio tasks copy the context).
    """
    tally = CallTally()
    token = _TALLY.set(tally)
    try:
        yield tally
    finally:
        _TALLY.reset(token)
