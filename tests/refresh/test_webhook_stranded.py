"""No webhook event is stranded: a run reads exactly the events it was given, however many
others are due or failing ahead of them; and, through the real sensor and the real job on a
real Dagster instance, pending events are dispatched again when the run that held them
failed, when its worker was killed (run monitoring marks it failed), and when they were
committed out of order (a lower event id visible after a higher one was dispatched).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time

import dagster as dg
import httpx
import yaml
from sqlalchemy import text

from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.sensors.webhook_inbox import (
    BATCH_TAG,
    OP_NAME,
    build_webhook_inbox_sensor,
    webhook_refresh_job,
)
from pipelines.webhooks import inbox_sql
from pipelines.webhooks.dispatch import DispatchCursor, InFlight
from pipelines.webhooks.notification import parse_bundle

from .conftest import ACCOUNT, World

FILLERS = 6000  # more than one read of the inbox (5,000)


def _notice_events(world: World, n: int = 1) -> list[dict]:
    notices = [item["Id"] for item in world.sim.items(ACCOUNT, "ilmoitukset")[:n]]
    return [e for notice in notices for e in world.change("ilmoitukset", "update", id=notice)]


def _tick(sensor, warehouse_url, instance, cursor):
    with dg.build_sensor_context(
        cursor=cursor,
        resources={"warehouse": WarehouseResource(database_url=warehouse_url)},
        instance=instance,
    ) as context:
        return sensor(context)


def _event_ids(request) -> list[int]:
    return request.run_config["ops"][OP_NAME]["config"]["event_ids"]


def _accounts_file(world: World, tmp_path, monkeypatch) -> str:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        yaml.safe_dump({"accounts": [world.account.model_dump(mode="json")]}), encoding="utf-8"
    )
    for variable, value in world.environ.items():
        monkeypatch.setenv(variable, value)
    return str(path)


def _execute(request, warehouse_url, instance, accounts_file, transport):
    return webhook_refresh_job.execute_in_process(
        run_config=request.run_config,
        tags=request.tags,
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url),
            "tampuuri": TampuuriResource(accounts_file=accounts_file, transport=transport),
        },
        instance=instance,
        raise_on_error=False,
    )


def _statuses(world: World) -> list[str]:
    with world.engine.connect() as conn:
        rows = conn.execute(text("SELECT status FROM ops.webhook_inbox ORDER BY event_id")).all()
    return [status for (status,) in rows]


def test_a_run_reads_its_events_behind_more_than_one_read_of_failing_ones(
    world: World, warehouse_url
):
    # 6,000 failed events due again ahead of the new one (an account nobody configured).
    with world.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.webhook_inbox (dedup_key, account, action, reference_id,"
                " status, tries, next_try_at)"
                " SELECT 'filler-' || g, 'gone', 'IlmoitusMuokkaa', g, 'failed', 1,"
                " now() - interval '1 minute' FROM generate_series(1, :n) AS g"
            ),
            {"n": FILLERS},
        )
    world.deliver(_notice_events(world))
    event_id = world.scalar("SELECT max(event_id) FROM ops.webhook_inbox")
    assert event_id == FILLERS + 1
    result = world.process(event_ids=[event_id])
    assert (result.events, result.done, result.failed) == (1, 1, 0)
    assert world.calls() == 1
    assert world.scalar("SELECT status FROM ops.webhook_inbox WHERE event_id = :i", i=event_id) == (
        "done"
    )
    # The fillers were not the run's business: untouched.
    assert world.scalar("SELECT count(*) FROM ops.webhook_inbox WHERE tries = 1") == FILLERS
    # And the sensor, while a run still holds all 6,000, dispatches a new event behind them.
    world.deliver(_notice_events(world, 2)[1:])
    instance = dg.DagsterInstance.ephemeral()
    holder = instance.create_run_for_job(
        webhook_refresh_job,
        run_config={"ops": {OP_NAME: {"config": {"event_ids": [1]}}}},
        tags={BATCH_TAG: "holder"},
    )
    assert not holder.is_finished
    held = DispatchCursor(seq=1, runs=(InFlight("holder", tuple(range(1, FILLERS + 1)), 0.0),))
    assert len(held.held) == FILLERS
    tick = _tick(build_webhook_inbox_sensor(window_s=0), warehouse_url, instance, held.to_text())
    assert [_event_ids(r) for r in tick.run_requests] == [[FILLERS + 2]]


def test_events_of_a_failed_run_are_dispatched_again(
    world: World, warehouse_url, tmp_path, monkeypatch
):
    accounts = _accounts_file(world, tmp_path, monkeypatch)
    world.deliver(_notice_events(world))
    instance = dg.DagsterInstance.ephemeral()
    sensor = build_webhook_inbox_sensor(window_s=0)
    first = _tick(sensor, warehouse_url, instance, None)
    [request] = first.run_requests
    # The run fails before refreshing anything (its accounts file is missing).
    failed = _execute(request, warehouse_url, instance, str(tmp_path / "missing.yaml"), None)
    assert not failed.success
    assert _statuses(world) == ["pending"] and world.calls() == 0
    second = _tick(sensor, warehouse_url, instance, first.cursor)
    [again] = second.run_requests
    assert _event_ids(again) == _event_ids(request) == [1]
    assert again.run_key != request.run_key  # a new key: Dagster launches it
    ok = _execute(again, warehouse_url, instance, accounts, world.transport)
    assert ok.success
    assert _statuses(world) == ["done"] and world.calls() == 1
    third = _tick(sensor, warehouse_url, instance, second.cursor)
    assert third.run_requests == [] and DispatchCursor.from_text(third.cursor).runs == ()


class _Hang(httpx.AsyncBaseTransport):
    """An API that never answers: the run sits inside its first call until killed."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


def _run_until_killed(instance_ref, run_config, tags, warehouse_url, accounts, environ):
    os.environ.update(environ)
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        webhook_refresh_job.execute_in_process(
            run_config=run_config,
            tags=tags,
            resources={
                "warehouse": WarehouseResource(database_url=warehouse_url),
                "tampuuri": TampuuriResource(accounts_file=accounts, transport=_Hang()),
            },
            instance=instance,
        )


def test_events_of_a_killed_run_are_dispatched_again(
    world: World, warehouse_url, tmp_path, monkeypatch
):
    accounts = _accounts_file(world, tmp_path, monkeypatch)
    world.deliver(_notice_events(world))
    sensor = build_webhook_inbox_sensor(window_s=0)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        first = _tick(sensor, warehouse_url, instance, None)
        [request] = first.run_requests
        child = multiprocessing.get_context("spawn").Process(
            target=_run_until_killed,
            args=(
                instance.get_ref(),
                request.run_config,
                request.tags,
                warehouse_url,
                accounts,
                world.environ,
            ),
        )
        child.start()
        deadline = time.monotonic() + 60
        runs = []
        while time.monotonic() < deadline:
            runs = instance.get_runs(filters=dg.RunsFilter(tags={BATCH_TAG: request.run_key}))
            if runs and runs[0].status == dg.DagsterRunStatus.STARTED:
                break
            time.sleep(0.2)
        assert runs and runs[0].status == dg.DagsterRunStatus.STARTED
        time.sleep(1.0)  # well inside the refresh: the API call hangs
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
        assert child.exitcode == -signal.SIGKILL
        # The run is still STARTED as far as Dagster knows: its events stay held.
        held = _tick(sensor, warehouse_url, instance, first.cursor)
        assert held.run_requests == [] and held.cursor == first.cursor
        # Run monitoring finds the dead worker and fails the run; the events go out again.
        instance.report_run_failed(runs[0], "run worker died (SIGKILL)")
        second = _tick(sensor, warehouse_url, instance, first.cursor)
        [again] = second.run_requests
        assert _event_ids(again) == [1] and again.run_key != request.run_key
        assert _statuses(world) == ["pending"]
        world.sim.counter.reset()
        assert _execute(again, warehouse_url, instance, accounts, world.transport).success
    assert _statuses(world) == ["done"] and world.calls() == 1


def test_an_event_committed_out_of_order_is_dispatched(
    world: World, warehouse_url, tmp_path, monkeypatch
):
    accounts = _accounts_file(world, tmp_path, monkeypatch)
    early, late = _notice_events(world, 2)
    instance = dg.DagsterInstance.ephemeral()
    sensor = build_webhook_inbox_sensor(window_s=0)
    # Receiver A takes event id 1 and has not committed; receiver B takes id 2 and commits.
    [slow] = parse_bundle({"Notifications": [early]}).valid
    with world.engine.connect() as conn_a:
        transaction = conn_a.begin()
        conn_a.execute(
            inbox_sql.INSERT_EVENTS,
            {
                "attempts": 1,
                "keys": [slow.dedup_key],
                "accounts": [slow.account],
                "actions": [slow.action],
                "ids": [slow.reference_id],
                "secondary_ids": [None],
                "data": [None],
                "json": [None],
                "timestamps": [slow.event_timestamp],
                "statuses": ["pending"],
            },
        )
        world.deliver([late])
        first = _tick(sensor, warehouse_url, instance, None)
        assert [_event_ids(r) for r in first.run_requests] == [[2]]
        transaction.commit()
    # Event 1 became visible below what was dispatched: the next tick sends it, while
    # event 2's run is still in flight (not yet started).
    second = _tick(sensor, warehouse_url, instance, first.cursor)
    assert [_event_ids(r) for r in second.run_requests] == [[1]]
    assert DispatchCursor.from_text(second.cursor).held == {1, 2}
    for request in (*first.run_requests, *second.run_requests):
        assert _execute(request, warehouse_url, instance, accounts, world.transport).success
    assert _statuses(world) == ["done", "done"] and world.calls() == 2
    third = _tick(sensor, warehouse_url, instance, second.cursor)
    assert third.run_requests == [] and DispatchCursor.from_text(third.cursor).runs == ()
