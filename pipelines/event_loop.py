"""The event loop the API work runs on: uvloop where installed, else asyncio's own.

A sync is mostly HTTP calls through httpx; on uvloop the loop's share of each call's CPU
is smaller (measured against the simulator: about 13 % less CPU per call). uvloop does not
exist on Windows: there asyncio's loop runs the same code.

While the coroutine runs, the objects that exist before it (modules, the configuration,
the engine: some hundreds of thousands) are frozen out of the cyclic garbage collector.
A sync allocates millions of short-lived dicts (parsed pages); every full collection
would otherwise walk all the long-lived objects again. Freezing them took about 7 % off
the sync process's CPU at 100k rows (benchmarks/RESULTS.md). They are unfrozen after.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the fastest loop available, long-lived objects frozen."""
    with _frozen_heap(), asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(coroutine)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the objects that exist now out of garbage collections until the block ends.

    Nested runs (a test's loop calling a sync) leave the freezing to the outermost one.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop (Windows)
        return None
    return uvloop.new_event_loop
