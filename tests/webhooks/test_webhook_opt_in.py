"""Events of opt-in resources (issue 18): bound by the declarations, refreshed only for an
account that opts in; for any other account stored, marked done, and no call made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.declarations import load_declarations
from pipelines.webhooks.inbox import store_bundle
from pipelines.webhooks.opt_in import unsynced_resources
from pipelines.webhooks.process import process_inbox_once
from tests.refresh.conftest import ACCOUNT, FAST, make_world
from tests.sync.helpers import account_for

from .conftest import bundle, count, notification

OPT_IN_EVENTS = {
    "SopimusUusi": "vuokrasopimukset",
    "SopimusPaattyi": "vuokrasopimukset",
    "AsuntotarkastusUusi": "asuntotarkastukset",
    "AsuntotarkastusTilamuutos": "asuntotarkastukset",
}


def test_opt_in_event_types_are_bound_by_their_declarations(mapping):
    for event_type, resource in OPT_IN_EVENTS.items():
        rule = mapping.rule(event_type)
        assert (rule.resource, rule.action, rule.ignored) == (resource, "refresh", False)
        assert load_declarations()[resource].spec.opt_in
        assert rule.source.endswith(f"{resource}.yaml")


def test_unsynced_resources_follow_the_accounts_opt_ins(engine):
    world = make_world(engine, scale=60)
    opt_ins = {n for n, d in load_declarations().resources.items() if d.spec.opt_in}
    assert unsynced_resources(world.account) == frozenset(opt_ins)
    opted, _ = account_for(world.sim, ACCOUNT, resources=["vuokrasopimukset"])
    assert unsynced_resources(opted) == frozenset(opt_ins - {"vuokrasopimukset"})


def test_event_of_an_unsynced_resource_is_done_without_a_call(engine):
    world = make_world(engine, scale=60)
    lease = world.sim.items(ACCOUNT, "vuokrasopimukset")[0]["Id"]
    inspection = world.sim.items(ACCOUNT, "asuntotarkastukset")[0]["Id"]
    store_bundle(
        engine,
        bundle(
            notification(lease, action="SopimusUusi"),
            notification(inspection, action="AsuntotarkastusTilamuutos"),
        ),
    )
    result = world.process(run_id="run-not-synced")
    assert (result.events, result.ignored, result.done, result.failed) == (2, 2, 0, 0)
    assert (result.calls, world.calls()) == (0, 0)
    done = "SELECT count(*) FROM ops.webhook_inbox WHERE status = 'done'"
    assert count(engine, done + " AND run_id = 'run-not-synced'") == 2
    assert count(engine, "SELECT count(*) FROM ops.webhook_inbox") == 2  # stored, not dropped


def test_built_in_events_next_to_unsynced_ones_keep_their_calls(engine):
    world = make_world(engine, scale=60)
    notice = world.sim.items(ACCOUNT, "ilmoitukset")[0]["Id"]
    lease = world.sim.items(ACCOUNT, "vuokrasopimukset")[0]["Id"]
    store_bundle(
        engine,
        bundle(notification(notice, action="IlmoitusUusi"), notification(lease, "SopimusUusi")),
    )
    result = world.process(run_id="run-mixed")
    assert (result.events, result.done, result.ignored, result.failed) == (2, 1, 1, 0)
    assert world.calls_by_route() == {("GET", "ilmoitukset/{id}", 200): 1}


def test_opted_in_account_refreshes_a_lease_by_detail(engine):
    world = make_world(engine, scale=60)
    opted, environ = account_for(world.sim, ACCOUNT, resources=["vuokrasopimukset"])
    lease = world.sim.items(ACCOUNT, "vuokrasopimukset")[0]
    store_bundle(engine, bundle(notification(lease["Id"], action="SopimusUusi")))
    result = process_inbox_once(
        engine,
        accounts=[opted],
        transport=world.transport,
        environ=environ,
        settings=FAST,
        now=datetime.now(UTC) + timedelta(seconds=1),
        window_s=0.0,
        max_batch=500,
        run_id="run-lease",
    )
    assert (result.events, result.done, result.ignored, result.failed) == (1, 1, 0, 0)
    assert world.calls_by_route() == {("GET", "vuokrasopimukset/{id}", 200): 1}
    stored = "SELECT count(*) FROM tampuuri.vuokrasopimukset WHERE deleted_at IS NULL"
    assert count(engine, stored + f" AND id = {int(lease['Id'])}") == 1
