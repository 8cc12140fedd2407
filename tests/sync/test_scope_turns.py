"""ScopeTurns: the fan-out batches' scans share the page slots, the earliest batch first,
so the batches do not all reach their commit at once (pipelines/sync/scope_turns.py)."""

from __future__ import annotations

import asyncio

import pytest

from pipelines.sync.scope_turns import ScopeTurns

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_never_more_holders_than_slots() -> None:
    turns = ScopeTurns(3)
    holding = peak = 0

    async def scan(batch: int) -> None:
        nonlocal holding, peak
        async with turns.turn(batch):
            holding += 1
            peak = max(peak, holding)
            await asyncio.sleep(0.001)
            holding -= 1

    await asyncio.gather(*(scan(i % 4) for i in range(40)))
    assert peak == 3 and holding == 0


async def test_a_freed_slot_goes_to_the_earliest_batch_then_in_asking_order() -> None:
    turns = ScopeTurns(1)
    order: list[tuple[int, int]] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with turns.turn(0):
            await release.wait()

    async def scan(batch: int, number: int) -> None:
        async with turns.turn(batch):
            order.append((batch, number))

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    # They ask in this order while the one slot is held: batch 3 first, batch 1 last.
    asked = [(3, 0), (2, 0), (3, 1), (1, 0), (2, 1), (1, 1)]
    waiters = [asyncio.create_task(scan(b, n)) for b, n in asked]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiters)
    assert order == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]


async def test_a_cancelled_waiter_leaves_no_slot_taken() -> None:
    turns = ScopeTurns(1)
    release = asyncio.Event()

    async def holder() -> None:
        async with turns.turn(0):
            await release.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiting = asyncio.create_task(turns.turn(1).__aenter__())
    await asyncio.sleep(0)
    waiting.cancel()  # cancelled while waiting
    release.set()
    await held
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # The slot is free again: a new scan gets it at once.
    async with asyncio.timeout(1):
        async with turns.turn(5):
            pass


async def test_a_waiter_cancelled_as_its_slot_arrives_passes_the_slot_on() -> None:
    turns = ScopeTurns(1)
    entered: list[int] = []

    async def scan(batch: int) -> None:
        async with turns.turn(batch):
            entered.append(batch)

    holder = turns.turn(0)
    await holder.__aenter__()
    unlucky = asyncio.create_task(scan(1))
    later = asyncio.create_task(scan(2))
    await asyncio.sleep(0)
    await holder.__aexit__(None, None, None)  # the slot is handed to batch 1 ...
    unlucky.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(unlucky, later, return_exceptions=True)
    assert entered == [2]
    async with asyncio.timeout(1):
        async with turns.turn(3):
            pass


def test_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        ScopeTurns(0)
