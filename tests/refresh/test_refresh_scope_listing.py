"""A webhook read of objects doubles as the nightly re-read of their cost centre (issue 19.3):
the refresh lists the cost centre whenever its pages are no more than the objects to
refresh in it, records the scan as the nightly scan would (so the sweep skips that cost
centre the next night), and confirms deletions; a cost centre with more pages than
changed objects still takes detail calls. Real PostgreSQL, the simulator over HTTP,
exact call counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.budget.shaping import nightly_share
from pipelines.sync.reconcile import reconcile_account
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.webhooks.refresh import planned_calls

from .conftest import ACCOUNT, FAST, World, make_world

STATE = (
    "SELECT {column} FROM ops.sync_state WHERE account = :a AND resource = 'kohteet' AND scope = :s"
)


def _state(world: World, column: str, cc: int):
    return world.scalar(STATE.format(column=column), a=ACCOUNT, s=str(cc))


def _objects_of(world: World, cc: int) -> list[int]:
    return [o["Id"] for o in world.sim.items(ACCOUNT, "kohteet") if o["KustannuspaikkaId"] == cc]


def _update(world: World, object_id: int) -> list[dict]:
    world.clock.now += timedelta(milliseconds=5)
    return world.change("kohteet", "update", id=object_id)


def _sweep(world: World, now: datetime):
    world.sim.counter.reset()
    report = reconcile_account(
        world.engine,
        world.account,
        transport=world.transport,
        environ=world.environ,
        settings=FAST,
        now=now,
    )
    assert report.ok
    assert report.calls == world.calls()
    return report


def test_one_object_costs_one_listing_which_stamps_the_cost_centre(world: World):
    cc = world.sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    objects = _objects_of(world, cc)
    assert 0 < len(objects) <= 250
    before = _state(world, "last_full_scan_at", cc)
    world.deliver(_update(world, objects[0]))
    result = world.process()
    assert (result.done, result.failed) == (1, 0)
    assert world.calls_by_route() == {("POST", "kohteet/{kohde_id}/selaa", 200): 1}
    # Recorded as the nightly scan of the cost centre: its full scan, success and Total.
    assert _state(world, "last_full_scan_at", cc) > before
    assert _state(world, "last_success_at", cc) == _state(world, "last_full_scan_at", cc)
    assert _state(world, "last_total", cc) == len(objects)
    assert world.scalar(
        "SELECT muokattu = :m FROM tampuuri.kohteet WHERE account = :a AND id = :i",
        m=next(o for o in world.sim.items(ACCOUNT, "kohteet") if o["Id"] == objects[0])["Muokattu"],
        a=ACCOUNT,
        i=objects[0],
    )


def test_the_next_sweep_skips_a_cost_centre_a_webhook_listed(engine):
    world = make_world(engine, scale=2500)  # 15 cost centres: 2 or 3 a night
    ccs = sorted(c["Id"] for c in world.sim.items(ACCOUNT, "kustannuspaikat"))
    first_night = datetime.now(UTC)
    first = _sweep(world, first_night)
    # The cost centre the next night's share would start with, listed for a webhook.
    listed = next(c for c in ccs if c not in first.cost_centres)
    world.deliver(_update(world, _objects_of(world, listed)[0]))
    world.sim.counter.reset()
    assert world.process().done == 1 and world.calls() == 1
    night = first_night + timedelta(days=1)
    share = nightly_share(len(ccs), world.account.budget.full_scan_period_days, night.date())
    tonight = _sweep(world, night)
    assert listed not in tonight.cost_centres
    assert len(tonight.cost_centres) == share - 1
    # 3 probes, 2 one-page incrementals, and one listing fewer than the share.
    assert tonight.calls == 3 + 2 + share - 1
    assert not set(tonight.cost_centres) & set(first.cost_centres)


def test_a_cost_centre_of_more_pages_than_changed_objects_takes_detail_calls(world: World):
    cc = world.sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    first, second = _objects_of(world, cc)[:2]
    # A cost centre of 600 objects: 3 pages for 2 objects.
    with world.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE ops.sync_state SET last_total = 600"
            f" WHERE account = '{ACCOUNT}' AND resource = 'kohteet' AND scope = '{cc}'"
        )
    before = _state(world, "last_full_scan_at", cc)
    targets = {("kohteet", "refresh"): (first, second)}
    assert planned_calls(world.engine, load_catalogue(), ACCOUNT, targets) == 2
    world.deliver(_update(world, first) + _update(world, second))
    result = world.process()
    assert (result.done, result.failed) == (2, 0)
    assert world.calls_by_route() == {("GET", "kohteet/{kohde_id}", 200): 2}
    assert _state(world, "last_full_scan_at", cc) == before
    # Three changed objects take the 3-page listing (the plan's estimate).
    third = {("kohteet", "refresh"): (first, second, _objects_of(world, cc)[2])}
    assert planned_calls(world.engine, load_catalogue(), ACCOUNT, third) == 3


def test_a_listing_confirms_the_deletions_it_finds(world: World):
    cc = world.sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    objects = _objects_of(world, cc)
    parents = {o["ParentId"] for o in world.sim.items(ACCOUNT, "kohteet")}
    leaf = next(i for i in objects if i not in parents)
    changed = next(i for i in objects if i != leaf)
    world.change("kohteet", "delete", id=leaf)  # its notification is lost
    world.deliver(_update(world, changed))
    result = world.process()
    assert (result.done, result.failed) == (1, 0)
    # The listing misses the deleted object; the nightly scan's confirmation asks for it.
    assert world.calls_by_route() == {
        ("POST", "kohteet/{kohde_id}/selaa", 200): 1,
        ("GET", "kohteet/{kohde_id}", 404): 1,
    }
    assert world.scalar(
        "SELECT deleted_at IS NOT NULL FROM tampuuri.kohteet WHERE account = :a AND id = :i",
        a=ACCOUNT,
        i=leaf,
    )
    # A deletion's own webhook still takes its detail call (404).
    other = next(i for i in objects if i not in (leaf, changed) and i not in parents)
    world.sim.counter.reset()
    world.deliver(world.change("kohteet", "delete", id=other))
    assert world.process().done == 1
    assert world.calls_by_route() == {("GET", "kohteet/{kohde_id}", 404): 1}
