"""No blocking warehouse call on the event loop in webhook processing: every SQL statement
a pass over the inbox executes (reading the events, budget checks,
run records, the refresh's writes, marking events done or failed) runs in a worker thread,
never on the thread that runs the loop. Checked on the real engine: a listener records the
statements executed while an event loop is running in the executing thread.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import event

from pipelines.simulator import FaultConfig

from .conftest import ACCOUNT, World


def _on_the_loop(world: World) -> list[str]:
    blocked: list[str] = []

    def before_execute(conn, cursor, statement, parameters, context, executemany):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread: no loop here
        blocked.append(" ".join(statement.split())[:80])

    event.listen(world.engine, "before_cursor_execute", before_execute)
    return blocked


def test_a_pass_over_the_inbox_never_blocks_the_loop(world: World):
    blocked = _on_the_loop(world)
    notices = [n["Id"] for n in world.sim.items(ACCOUNT, "ilmoitukset")[:3]]
    party = world.sim.items(ACCOUNT, "osapuolet")[0]["Id"]
    events = [e for n in notices for e in world.change("ilmoitukset", "update", id=n)]
    events += world.change("osapuolet", "update", id=party)
    world.deliver(events)
    done = world.process()
    assert (done.events, done.done) == (4, 4)
    # A failing refresh too: the failed events are recorded (with backoff) the same way.
    world.sim.faults.configure(FaultConfig(error_rate=1.0, error_statuses=(503,)))
    world.clock.now += timedelta(seconds=1)  # a later change: a new event, not a repeat
    world.deliver(world.change("osapuolet", "update", id=party))
    failed = world.process()
    assert failed.failed == 1
    assert blocked == []
