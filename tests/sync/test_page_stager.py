"""PageStager on a real PostgreSQL: a scan that finds the queue full waits only until the
worker takes the queue for its next COPY, not until that COPY is done; every page still
lands, in order, in as few COPYs as the busy connection allowed."""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from unittest import mock

from sqlalchemy import text

from pipelines.event_loop import run
from pipelines.sync.load_sessions import MAX_QUEUED_PAGES, LoadSession, PageStager
from pipelines.warehouse.loader import Scope, ScopeLoad

ACCOUNT = "demo-a"


def _page(number: int) -> list[dict[str, object]]:
    first = 1000 + 10 * number
    return [{"Id": i, "Nimi": f"As Oy {i}"} for i in range(first, first + 3)]


class GatedCopies:
    """ScopeLoad.stage that holds each COPY until the test opens its gate."""

    def __init__(self) -> None:
        self.gates = [threading.Event(), threading.Event()]
        self.entered = [threading.Event(), threading.Event()]
        self.pages_per_copy: list[int] = []
        self._stage = ScopeLoad.stage

    def __call__(self, load: ScopeLoad, page: Any) -> int:
        number = len(self.pages_per_copy)
        self.pages_per_copy.append(page.rows // 3)
        if number < len(self.gates):
            self.entered[number].set()
            assert self.gates[number].wait(timeout=10)
        return self._stage(load, page)


def test_a_full_queue_makes_room_when_the_worker_takes_it(engine) -> None:
    copies = GatedCopies()

    async def scenario() -> int:
        session = LoadSession(engine)
        loads = await session.open_loads(
            "kustannuspaikat",
            scope=Scope(None),
            nested=[],
            account=ACCOUNT,
            run_id="run-stager",
            disjoint=False,
        )
        load = loads["kustannuspaikat"]
        stager = PageStager(loads, session)
        await stager.stage([load.encode(_page(0))])
        await asyncio.to_thread(copies.entered[0].wait, 10)  # the first COPY is running
        for number in range(1, MAX_QUEUED_PAGES + 1):
            await stager.stage([load.encode(_page(number))])  # the queue fills up
        waiting = asyncio.create_task(stager.stage([load.encode(_page(MAX_QUEUED_PAGES + 1))]))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # no room: the worker is still on the first COPY
        copies.gates[0].set()
        # The worker takes the queue for its second COPY: room, while that COPY waits.
        await asyncio.wait_for(waiting, timeout=5)
        assert not copies.gates[1].is_set()  # so the second COPY cannot have finished
        await asyncio.to_thread(copies.entered[1].wait, 10)
        copies.gates[1].set()
        await stager.drain()
        counts = await asyncio.to_thread(load.apply)
        await session.commit()
        await session.close()
        return counts.inserted

    def gated_stage(load: ScopeLoad, page: Any) -> int:
        return copies(load, page)

    with mock.patch.object(ScopeLoad, "stage", gated_stage):
        try:
            inserted = run(scenario())
        finally:
            for gate in copies.gates:
                gate.set()  # a failed assertion leaves no COPY waiting
    pages = MAX_QUEUED_PAGES + 2
    assert inserted == 3 * pages
    assert copies.pages_per_copy == [1, MAX_QUEUED_PAGES, 1]  # queued pages joined
    with engine.connect() as conn:
        ids = conn.execute(
            text("SELECT id FROM tampuuri.kustannuspaikat WHERE account = :a ORDER BY id"),
            {"a": ACCOUNT},
        ).scalars()
        assert list(ids) == [row["Id"] for n in range(pages) for row in _page(n)]
