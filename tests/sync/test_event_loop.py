"""`event_loop.run`: the API work's loop, with the objects older than it frozen out of the
garbage collector while it runs (and only then)."""

from __future__ import annotations

import gc
import threading

from pipelines import event_loop


class _Made:
    """A container the collector tracks."""


def _collected(obj: object) -> bool:
    """Whether `obj` is in one of the collector's generations (not frozen)."""
    return any(o is obj for o in gc.get_objects())


def test_objects_older_than_the_run_are_frozen_while_it_runs_and_thawed_after() -> None:
    assert gc.get_freeze_count() == 0
    older = _Made()

    async def inside() -> tuple[int, bool, bool]:
        newer = _Made()
        return gc.get_freeze_count(), _collected(older), _collected(newer)

    frozen, older_collected, newer_collected = event_loop.run(inside())
    assert frozen > 1000  # the modules, configuration and the rest loaded before the run
    assert not older_collected
    assert newer_collected  # what the run allocates is collected as usual
    assert gc.get_freeze_count() == 0
    assert _collected(older)  # back in the collector's care


def test_a_run_inside_a_run_leaves_the_freezing_to_the_outer_one() -> None:
    def nested() -> int:
        async def noop() -> int:
            return gc.get_freeze_count()

        return event_loop.run(noop())

    async def outer() -> tuple[int, int]:
        before = gc.get_freeze_count()
        counts: list[int] = []
        thread = threading.Thread(target=lambda: counts.append(nested()))
        thread.start()
        thread.join()
        return before, counts[0]

    before, during_nested = event_loop.run(outer())
    assert during_nested == before  # the nested run neither froze more nor thawed
    assert gc.get_freeze_count() == 0
