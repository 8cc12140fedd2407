"""Webhook-driven targeted refresh: exact API call counts per coalesced batch, deletions
after a 404 or absence from the batch route, the freshness guard against out-of-order
events, duplicates costing nothing, events marked done with the run id, failed refreshes
retried with backoff, and nightly cursors left alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.simulator import FaultConfig
from pipelines.webhooks import process
from tests.sync.helpers import assert_parity

from .conftest import ACCOUNT, World


def _tick(world: World, ms: int = 5) -> None:
    world.clock.now += timedelta(milliseconds=ms)


def _burst(world: World, resource: str, row_id: int, n: int) -> list[dict]:
    out: list[dict] = []
    for _ in range(n):
        _tick(world)
        out.extend(world.change(resource, "update", id=row_id))
    return out


def _leaf_object(world: World) -> dict:
    objects = world.sim.items(ACCOUNT, "kohteet")
    parents = {o["ParentId"] for o in objects}
    return next(o for o in objects if o["Id"] not in parents and o["Metaname"] == "huoneisto")


def test_burst_of_100_events_on_3_rows_costs_3_calls(world: World):
    notice = world.sim.items(ACCOUNT, "ilmoitukset")[0]["Id"]
    obj = _leaf_object(world)["Id"]
    party = world.sim.items(ACCOUNT, "osapuolet")[0]["Id"]
    events = (
        _burst(world, "ilmoitukset", notice, 34)
        + _burst(world, "kohteet", obj, 33)
        + _burst(world, "osapuolet", party, 33)
    )
    assert len(events) == 100
    world.deliver(events)
    result = world.process(run_id="run-burst")
    assert (result.events, result.done, result.failed) == (100, 100, 0)
    assert world.calls() == 3
    # The object: its cost centre's listing (1 page, no more than one detail call).
    assert world.calls_by_route() == {
        ("GET", "ilmoitukset/{id}", 200): 1,
        ("POST", "kohteet/{kohde_id}/selaa", 200): 1,
        ("POST", "osapuolitiedot/osapuolet/hae", 200): 1,
    }
    assert result.calls == 3
    # Events carry the run id; the warehouse holds the simulator's current rows.
    assert (
        world.scalar(
            "SELECT count(*) FROM ops.webhook_inbox WHERE status = 'done' AND run_id = 'run-burst'"
        )
        == 100
    )
    for table, row_id in (("ilmoitukset", notice), ("kohteet", obj), ("osapuolet", party)):
        current = next(
            i for i in world.sim.items(ACCOUNT, table, visible_only=False) if i["Id"] == row_id
        )
        stored = world.scalar(
            f"SELECT data FROM tampuuri.{table} WHERE account = :a AND id = :i", a=ACCOUNT, i=row_id
        )
        assert stored == current
    # The call ledger agrees with the simulator's transaction report.
    assert world.scalar("SELECT count(*) FROM ops.api_calls WHERE trigger = 'webhook'") == 3


def test_50_notices_in_one_window_cost_one_list_call(world: World):
    state = "SELECT string_agg(concat_ws('|', resource, scope, cursor, last_total,"
    state += " last_full_scan_at), ',' ORDER BY resource, scope) FROM ops.sync_state"
    state_before = world.scalar(state)
    existing = [n["Id"] for n in world.sim.items(ACCOUNT, "ilmoitukset")]
    events = []
    for notice in existing:  # every existing notice changes, and new ones make it 50
        events.extend(_burst(world, "ilmoitukset", notice, 1))
    for _ in range(50 - len(existing)):
        _tick(world)
        events.extend(world.change("ilmoitukset", "insert", fields={}))
    assert len(events) == 50 and len({e["ReferenceId"] for e in events}) == 50
    world.deliver(events)
    result = world.process()
    assert (result.done, result.failed) == (50, 0)
    assert world.calls_by_route() == {("GET", "ilmoitukset/selaa", 200): 1}
    assert world.scalar(
        "SELECT count(*) FROM tampuuri.ilmoitukset WHERE account = :a AND deleted_at IS NULL",
        a=ACCOUNT,
    ) == len(world.sim.items(ACCOUNT, "ilmoitukset"))
    # The nightly cursors, totals and full-scan times did not move.
    assert world.scalar(state) == state_before


def test_deletes_soft_delete_after_404_or_batch_absence(world: World):
    obj = _leaf_object(world)["Id"]
    party = world.sim.items(ACCOUNT, "osapuolet")[0]["Id"]
    events = world.change("kohteet", "delete", id=obj)
    events += world.change("osapuolet", "delete", id=party)
    world.deliver(events)
    result = world.process(run_id="run-del")
    assert result.done == len(events) and result.failed == 0
    assert world.calls_by_route() == {
        ("GET", "kohteet/{kohde_id}", 404): 1,
        ("POST", "osapuolitiedot/osapuolet/hae", 200): 1,
    }
    for table, row_id in (("kohteet", obj), ("osapuolet", party)):
        assert world.scalar(
            f"SELECT deleted_at IS NOT NULL FROM tampuuri.{table} WHERE account = :a AND id = :i",
            a=ACCOUNT,
            i=row_id,
        )
        assert world.scalar(
            f"SELECT deleted FROM tampuuri.{table}_history"
            " WHERE account = :a AND id = :i AND valid_to IS NULL",
            a=ACCOUNT,
            i=row_id,
        )


def test_older_change_arriving_late_does_not_overwrite(world: World):
    notice = world.sim.items(ACCOUNT, "ilmoitukset")[0]["Id"]
    _tick(world, 1000)
    older = world.change("ilmoitukset", "update", id=notice, fields={"Otsikko": "vanha"})
    _tick(world, 1000)
    newer = world.change("ilmoitukset", "update", id=notice, fields={"Otsikko": "uusi"})
    world.deliver(newer)
    assert world.process().done == 1
    versions = "SELECT count(*) FROM tampuuri.ilmoitukset_history WHERE account = :a AND id = :i"
    n_versions = world.scalar(versions, a=ACCOUNT, i=notice)
    # The older event arrives afterwards: the refresh reads the row again, nothing changes.
    world.deliver(older)
    result = world.process()
    assert result.done == 1 and result.counts.updated == 0
    assert world.scalar(versions, a=ACCOUNT, i=notice) == n_versions
    assert (
        world.scalar(
            "SELECT otsikko FROM tampuuri.ilmoitukset WHERE account = :a AND id = :i",
            a=ACCOUNT,
            i=notice,
        )
        == "uusi"
    )
    # And an API answer older than the stored row (a lagging replica) is not written.
    world.clock.now -= timedelta(hours=1)
    stale = world.change("ilmoitukset", "update", id=notice, fields={"Otsikko": "myohassa"})
    world.deliver(stale)
    result = world.process()
    assert result.counts.stale == 1 and result.counts.updated == 0
    assert (
        world.scalar(
            "SELECT otsikko FROM tampuuri.ilmoitukset WHERE account = :a AND id = :i",
            a=ACCOUNT,
            i=notice,
        )
        == "uusi"
    )


def test_duplicates_do_nothing_extra(world: World):
    notice = world.sim.items(ACCOUNT, "ilmoitukset")[0]["Id"]
    events = _burst(world, "ilmoitukset", notice, 1)
    world.deliver(events, attempts=1)
    world.deliver(events, attempts=2)  # the bus redelivers the same bundle
    assert world.scalar("SELECT count(*) FROM ops.webhook_inbox") == 1
    assert world.process().done == 1
    world.deliver(events, attempts=3)  # and once more after it was processed
    again = world.process()
    assert again.batch_key is None and again.calls == 0
    assert world.calls() == 1


def test_failed_refresh_is_retried_with_backoff_then_done(world: World):
    notice = world.sim.items(ACCOUNT, "ilmoitukset")[0]["Id"]
    world.deliver(_burst(world, "ilmoitukset", notice, 1))
    world.sim.faults.configure(FaultConfig(error_rate=1.0, error_statuses=(503,)))
    now = datetime.now(UTC) + timedelta(seconds=1)
    failed = world.process(now=now)
    assert (failed.done, failed.failed) == (0, 1)
    assert failed.errors and "503" in failed.errors[0]
    assert (
        world.scalar(
            "SELECT status || ':' || tries || ':' || (next_try_at > :now)::text"
            " FROM ops.webhook_inbox",
            now=now,
        )
        == "failed:1:true"
    )
    world.sim.faults.configure(FaultConfig())
    # Not yet due: nothing happens.
    assert world.process(now=now).batch_key is None
    later = now + timedelta(hours=2)
    retried = world.process(now=later, run_id="run-retry")
    assert (retried.done, retried.failed) == (1, 0)
    assert world.scalar("SELECT status || ':' || run_id FROM ops.webhook_inbox") == "done:run-retry"


def test_objects_of_one_cost_centre_share_one_scope_listing(world: World):
    cc = world.sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    objects = [o["Id"] for o in world.sim.items(ACCOUNT, "kohteet") if o["KustannuspaikkaId"] == cc]
    events = _burst(world, "kohteet", objects[0], 1) + _burst(world, "kohteet", objects[1], 1)
    world.deliver(events)
    result = world.process()
    assert result.done == 2 and result.counts.updated == 2
    assert world.calls_by_route() == {("POST", "kohteet/{kohde_id}/selaa", 200): 1}


def test_new_link_refreshes_the_objects_links_and_a_cost_centre_by_listing(world: World):
    obj = _leaf_object(world)["Id"]
    party = world.sim.items(ACCOUNT, "osapuolet")[0]["Id"]
    cc = world.sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    _tick(world)
    events = world.change(
        "osapuoli_yhteydet", "insert", fields={"OsapuoliId": party, "KohdeId": obj}
    )
    _tick(world)
    events += world.change("kustannuspaikat", "update", id=cc)
    world.deliver(events)
    result = world.process()
    assert result.done == len(events) and result.failed == 0
    assert world.calls_by_route() == {
        ("GET", "osapuolet/yhteydet/selaa", 200): 1,
        ("GET", "kustannuspaikat/selaa", 200): 1,
    }
    expected = {
        link["Id"]
        for link in world.sim.items(ACCOUNT, "osapuoli_yhteydet")
        if link["KohdeId"] == obj
    }
    stored = world.scalar(
        "SELECT array_agg(id) FROM tampuuri.osapuoli_yhteydet"
        " WHERE account = :a AND kohde_id = :o AND deleted_at IS NULL",
        a=ACCOUNT,
        o=obj,
    )
    assert set(stored) == expected


def _new_links(world: World, n: int) -> list[dict]:
    """n new links, each on its own apartment, with their notifications."""
    objects = [o["Id"] for o in world.sim.items(ACCOUNT, "kohteet") if o["Metaname"] == "huoneisto"]
    parties = [p["Id"] for p in world.sim.items(ACCOUNT, "osapuolet")]
    events: list[dict] = []
    for obj, party in zip(objects[:n], parties[-n:], strict=True):
        _tick(world)
        events += world.change(
            "osapuoli_yhteydet", "insert", fields={"OsapuoliId": party, "KohdeId": obj}
        )
    return events


def test_new_links_on_many_objects_cost_one_read_of_the_lists_end(world: World):
    events = _new_links(world, 12)
    # One more link whose notification was lost: the same read brings it too.
    lost = _new_links(world, 1)
    assert len(events) == 12 and len(lost) == 1
    world.deliver(events)
    result = world.process()
    assert (result.done, result.failed) == (12, 0)
    assert world.calls_by_route() == {("GET", "osapuolet/yhteydet/selaa", 200): 1}
    assert result.counts.inserted == 13
    assert_parity(world.engine, world.sim, ACCOUNT)


def test_a_read_of_the_end_that_cannot_prove_completeness_falls_back(world: World, monkeypatch):
    # Links deleted unseen move the list's end left of where the warehouse expects it;
    # with a margin smaller than the shift the read starts past the newest known link,
    # could have skipped new ones, and the refresh scans each object instead.
    monkeypatch.setattr("pipelines.tampuuri.tail.DEFAULT_MARGIN", 2)
    for link in world.sim.items(ACCOUNT, "osapuoli_yhteydet")[-5:]:
        world.change("osapuoli_yhteydet", "delete", id=link["Id"])
    events = _new_links(world, 3)
    world.deliver(events)
    result = world.process()
    assert (result.done, result.failed) == (3, 0)
    assert world.calls_by_route() == {("GET", "osapuolet/yhteydet/selaa", 200): 1 + 3}
    stored = world.scalar(
        "SELECT count(*) FROM tampuuri.osapuoli_yhteydet WHERE account = :a AND id > :n",
        a=ACCOUNT,
        n=max(link["Id"] for link in world.sim.items(ACCOUNT, "osapuoli_yhteydet")) - 3,
    )
    assert stored == 3


def test_the_batch_estimate_the_guard_sees_equals_the_calls_made(world: World, monkeypatch):
    """The webhook path's plan before run: what `expected_calls` tells the budget guard
    equals what the refresh then spends, for a batch of every kind of target."""
    seen: list[int] = []
    real_hook = process.budget_hook

    def recording_hook(engine, account, catalogue, calls, now):
        seen.append(calls)
        return real_hook(engine, account, catalogue, calls, now)

    monkeypatch.setattr(process, "budget_hook", recording_hook)
    notices = [n["Id"] for n in world.sim.items(ACCOUNT, "ilmoitukset")[:3]]
    parties = [p["Id"] for p in world.sim.items(ACCOUNT, "osapuolet")[:2]]
    cc = world.sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    events = [e for n in notices for e in _burst(world, "ilmoitukset", n, 1)]
    events += _burst(world, "kohteet", _leaf_object(world)["Id"], 1)
    events += [e for p in parties for e in _burst(world, "osapuolet", p, 1)]
    events += _burst(world, "kustannuspaikat", cc, 1)
    events += _new_links(world, 3)
    world.deliver(events)
    result = world.process(check_budget=True)
    assert (result.done, result.failed) == (len(events), 0)
    # Notices: one change-since list; the object: one detail; parties: one batch;
    # the cost centre: one change-since list; three new links: one read of the end.
    assert seen == [5] and world.calls() == result.calls == 5
