"""Two accounts on different profiles in one deployment: the webhook sensor (through
Dagster's `build_sensor_context`, against the simulator and a real warehouse) dispatches
the default account's events at once and holds the frugal account's until its own window
has passed; the dispatched run refreshes exactly its events over HTTP.
"""

from __future__ import annotations

import re

import dagster as dg

from pipelines.sensors.webhook_inbox import build_webhook_inbox_sensor
from pipelines.settings import AccountConfig
from pipelines.webhooks.dispatch import DispatchCursor
from pipelines.webhooks.process import process_inbox_once
from tests.refresh.conftest import FAST

from .deployment import FRUGAL, REALTIME, Deployment, event_ids


def test_each_account_is_batched_on_its_own_window(deployment: Deployment, tmp_path, monkeypatch):
    assert deployment.accounts[REALTIME].effective_profile.webhook_window_s == 0
    assert deployment.accounts[FRUGAL].effective_profile.webhook_window_s == 3600
    fast = deployment.notice_changed(REALTIME)
    slow = deployment.notice_changed(FRUGAL)
    assert (fast, slow) == ([1], [2])
    instance = dg.DagsterInstance.ephemeral()
    sensor = deployment.sensor()

    first = deployment.tick(sensor, instance)
    [request] = first.run_requests
    assert event_ids(request) == fast  # the default account's event at once, alone
    assert DispatchCursor.from_text(first.cursor).held == {1}

    # The frugal account's event waits for its hour; the next tick launches nothing.
    second = deployment.tick(sensor, instance, first.cursor)
    assert second.run_requests == []
    assert second.skip_reason.skip_message.startswith(
        f"{FRUGAL}: 1 event(s) held for its 3,600 s window (due in 3,"
    )

    # The run refreshes exactly the default account's event: one call, over HTTP.
    assert deployment.execute(request, instance, tmp_path, monkeypatch).success
    assert deployment.event_ids(REALTIME, "done") == fast
    assert deployment.event_ids(FRUGAL) == slow
    assert deployment.sim.counter.total(REALTIME) == 1
    assert deployment.sim.counter.total(FRUGAL) == 0

    # 59 minutes on, still held; past the hour, dispatched alone.
    deployment.age_events(FRUGAL, 59 * 60)
    third = deployment.tick(sensor, instance, second.cursor)
    assert third.run_requests == []
    deployment.age_events(FRUGAL, 61)
    fourth = deployment.tick(sensor, instance, third.cursor)
    [late] = fourth.run_requests
    assert event_ids(late) == slow
    assert late.run_key.startswith("webhooks-2-2-") and late.run_key.endswith("-d2")
    assert deployment.execute(late, instance, tmp_path, monkeypatch).success
    assert deployment.event_ids(FRUGAL, "done") == slow
    assert deployment.sim.counter.total(FRUGAL) == 1


def test_events_arriving_inside_an_open_window_join_its_batch(deployment: Deployment):
    instance = dg.DagsterInstance.ephemeral()
    sensor = deployment.sensor()
    first = deployment.notice_changed(FRUGAL)
    deployment.age_events(FRUGAL, 30 * 60)
    both = deployment.notice_changed(FRUGAL)  # a second change half an hour later
    assert both == [*first, first[0] + 1]
    held = deployment.tick(sensor, instance)
    assert held.run_requests == []
    # Due when the first is an hour old: in half an hour (less the test's own seconds).
    assert re.fullmatch(
        rf"{FRUGAL}: 2 event\(s\) held for its 3,600 s window \(due in 1,[78]\d\d s\)"
        r" \(ilmoitukset\)",
        held.skip_reason.skip_message,
    )
    deployment.age_events(FRUGAL, 30 * 60)  # the first is an hour old, the second half
    [request] = deployment.tick(sensor, instance, held.cursor).run_requests
    assert event_ids(request) == both  # one batch, one window's worth


def test_an_event_naming_the_tampuuri_account_waits_on_that_accounts_window(
    deployment: Deployment, monkeypatch
):
    # The frugal account known by another label: its webhooks name its Tampuuri account.
    frugal = deployment.accounts[FRUGAL]
    document = frugal.model_dump(mode="json", exclude={"budget"})
    relabelled = AccountConfig.model_validate({**document, "name": "tili-b"})
    for variable, value in deployment.environ.items():
        monkeypatch.setenv(variable, value)
    assert relabelled.resolve_credentials().account_name == FRUGAL
    deployment.notice_changed(FRUGAL)
    sensor = build_webhook_inbox_sensor(accounts=lambda: [relabelled])
    held = deployment.tick(sensor, dg.DagsterInstance.ephemeral())
    assert held.run_requests == []
    assert held.skip_reason.skip_message.startswith(
        "tili-b: 1 event(s) held for its 3,600 s window"
    )


def test_webhooks_process_holds_each_account_on_its_window(deployment: Deployment):
    fast = deployment.notice_changed(REALTIME)
    slow = deployment.notice_changed(FRUGAL)

    def drain():
        return process_inbox_once(
            deployment.engine,
            accounts=list(deployment.accounts.values()),
            transport=deployment.transport,
            environ=deployment.environ,
            settings=FAST,
            window_s=0.0,  # the command's default
        )

    first = drain()
    assert (first.events, first.done, first.calls) == (1, 1, 1)
    assert deployment.event_ids(REALTIME, "done") == fast
    assert drain().batch_key is None  # the frugal account's event waits for its hour
    deployment.age_events(FRUGAL, 3601)
    late = drain()
    assert (late.events, late.done, late.calls) == (1, 1, 1)
    assert deployment.event_ids(FRUGAL, "done") == slow
