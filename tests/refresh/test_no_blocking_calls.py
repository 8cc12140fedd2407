"""No blocking warehouse call on the event loop in webhook processing, a full sync and the
reconciliation sweep (tests/refresh/test_reconcile.py): every SQL statement a pass over
the inbox executes (reading the events, budget checks,
run records, the refresh's writes, marking events done or failed) runs in a worker thread,
never on the thread that runs the loop. Checked on the real engine: a listener records the
statements executed while an event loop is running in the executing thread.
"""

from __future__ import annotations

from datetime import timedelta

from pipelines.simulator import FaultConfig
from pipelines.sync.engine import SyncRequest, run_sync

from .conftest import ACCOUNT, FAST, World, statements_on_the_loop


def test_a_pass_over_the_inbox_never_blocks_the_loop(world: World):
    blocked = statements_on_the_loop(world.engine)
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


def test_a_full_sync_never_blocks_the_loop(world: World):
    """run_sync's run records, scan state, loads and ledger writes all run off the loop."""
    blocked = statements_on_the_loop(world.engine)
    world.change("ilmoitukset", "delete", id=world.sim.items(ACCOUNT, "ilmoitukset")[0]["Id"])
    report = run_sync(
        world.engine,
        SyncRequest(world.account, full=True),
        transport=world.transport,
        environ=world.environ,
        settings=FAST,
    )
    assert report.ok and report.calls == world.calls()
    assert blocked == []
