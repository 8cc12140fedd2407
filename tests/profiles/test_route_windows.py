"""Issue 19.3 (a): each route of an account is held on the account's window on its own.

A frugal account (1 h window) with a notice changed at t and a cost centre changed half an
hour later: an hour after t only the notice is due (the cost centre's window is not cut
short), one call; half an hour later the cost centre goes, one call. The inbox pass
(`webhooks process`) and the sensor (through Dagster's `build_sensor_context`) hold alike;
real warehouse, the simulator over HTTP, exact calls.
"""

from __future__ import annotations

import dagster as dg

from pipelines.webhooks.inbox import store_bundle
from pipelines.webhooks.process import process_inbox_once
from tests.refresh.conftest import FAST

from .deployment import FRUGAL, Deployment, event_ids


def _cost_centre_changed(deployment: Deployment) -> list[int]:
    sim = deployment.sim
    cc = sim.items(FRUGAL, "kustannuspaikat")[0]["Id"]
    change = sim.apply_change(FRUGAL, "kustannuspaikat", "update", id=cc)
    store_bundle(deployment.engine, {"Attempts": 1, "Notifications": change.notifications})
    return deployment.event_ids(FRUGAL)


def _drain(deployment: Deployment):
    return process_inbox_once(
        deployment.engine,
        accounts=list(deployment.accounts.values()),
        transport=deployment.transport,
        environ=deployment.environ,
        settings=FAST,
        window_s=0.0,
    )


def test_the_inbox_pass_holds_each_route_on_its_own_window(deployment: Deployment):
    [notice] = deployment.notice_changed(FRUGAL)
    deployment.age_events(FRUGAL, 30 * 60)
    [_, cost_centre] = _cost_centre_changed(deployment)
    assert _drain(deployment).batch_key is None  # both wait
    deployment.age_events(FRUGAL, 30 * 60 + 1)  # the notice 1 h old, the cost centre 30 min
    first = _drain(deployment)
    assert (first.events, first.done, first.calls) == (1, 1, 1)
    assert deployment.event_ids(FRUGAL, "done") == [notice]
    assert deployment.event_ids(FRUGAL) == [cost_centre]
    assert _drain(deployment).batch_key is None
    deployment.age_events(FRUGAL, 30 * 60)
    late = _drain(deployment)
    assert (late.events, late.done, late.calls) == (1, 1, 1)
    assert deployment.event_ids(FRUGAL, "done") == [notice, cost_centre]
    assert deployment.sim.counter.total(FRUGAL) == 2


def test_the_sensor_dispatches_the_due_route_and_names_the_one_held(deployment: Deployment):
    instance = dg.DagsterInstance.ephemeral()
    sensor = deployment.sensor()
    [notice] = deployment.notice_changed(FRUGAL)
    deployment.age_events(FRUGAL, 30 * 60)
    [_, cost_centre] = _cost_centre_changed(deployment)
    held = deployment.tick(sensor, instance)
    assert held.run_requests == []
    message = held.skip_reason.skip_message
    assert f"{FRUGAL}: 1 event(s) held for its 3,600 s window" in message
    assert "(ilmoitukset)" in message and "(kustannuspaikat)" in message
    deployment.age_events(FRUGAL, 30 * 60 + 1)
    [request] = deployment.tick(sensor, instance, held.cursor).run_requests
    assert event_ids(request) == [notice]  # the cost centre still waits its half hour
    later = deployment.tick(sensor, instance, held.cursor)
    assert cost_centre not in [e for r in later.run_requests for e in event_ids(r)]
