"""Reconciliation: after the receiver missed all 5 delivery attempts of a bundle, the sweep
restores parity with the simulator, spending fewer calls than a full sync would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import text

from pipelines.budget.shaping import nightly_share
from pipelines.sync.reconcile import reconcile_account
from tests.sync.helpers import assert_parity, minimum_full_sync_calls

from .conftest import ACCOUNT, FAST, make_world


class DownTransport(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("receiver down", request=request)


def test_reconcile_after_a_lost_bundle_restores_parity_cheaply(engine):
    # Large enough that a full sync takes many pages (15 cost centres, 4 pages of links).
    world = make_world(engine, scale=2500)
    sim = world.sim
    sim.webhooks._transport = DownTransport()  # the listener is down for every attempt
    sim.webhooks._delays = (0.0,)
    sim.webhooks.add_listener(ACCOUNT, "http://receiver.test/tampuuri/webhook")
    with world.engine.connect() as conn:
        stalest = conn.execute(
            text(
                "SELECT scope FROM ops.sync_state WHERE account = :a AND resource = 'kohteet'"
                " ORDER BY last_full_scan_at, scope::bigint LIMIT 1"
            ),
            {"a": ACCOUNT},
        ).scalar_one()
    notice = sim.items(ACCOUNT, "ilmoitukset")[0]["Id"]
    cc = sim.items(ACCOUNT, "kustannuspaikat")[0]["Id"]
    obj = next(o for o in sim.items(ACCOUNT, "kohteet") if o["KustannuspaikkaId"] == int(stalest))
    for resource, op, kwargs in (
        ("ilmoitukset", "update", {"id": notice}),
        ("ilmoitukset", "insert", {"fields": {}}),
        ("kustannuspaikat", "update", {"id": cc}),
        ("kohteet", "update", {"id": obj["Id"]}),
        ("osapuoli_yhteydet", "insert", {"fields": {}}),
    ):
        world.clock.now += timedelta(seconds=1)
        sim.apply_change(ACCOUNT, resource, op, **kwargs)
    outcomes = []
    for _ in range(5):
        outcomes.extend(e["outcome"] for e in asyncio.run(sim.webhooks.deliver_due()))
    assert outcomes == ["retry"] * 4 + ["dropped"]
    assert world.scalar("SELECT count(*) FROM ops.webhook_inbox") == 0

    sim.counter.reset()
    report = reconcile_account(
        world.engine,
        world.account,
        transport=world.transport,
        environ=world.environ,
        settings=FAST,
        now=world.clock.now + timedelta(days=1),  # the next night's sweep
    )
    assert report.ok
    assert sorted(report.drifted) == ["ilmoitukset", "osapuoli_yhteydet"]
    assert report.deferred == []
    assert report.incremental == ["kustannuspaikat"]
    # The coverage floor of the stalest cost centres, the stalest one among them.
    n_ccs = len(sim.items(ACCOUNT, "kustannuspaikat"))
    assert len(report.cost_centres) == nightly_share(n_ccs, 7) < n_ccs
    assert int(stalest) in report.cost_centres
    assert_parity(world.engine, sim, ACCOUNT)
    assert report.calls == world.calls()
    assert report.calls < minimum_full_sync_calls(sim, ACCOUNT)


def test_a_drifted_list_waits_for_its_rescan_period(engine):
    """With list_rescan_period_days = 30 a deleted link (no webhook) is not worth a whole
    link list every night: the drift is reported as deferred until the period is up."""
    world = make_world(engine, scale=2500)
    sim = world.sim
    budget = world.account.budget.model_copy(update={"list_rescan_period_days": 30})
    account = world.account.model_copy(update={"budget": budget})
    link = sim.items(ACCOUNT, "osapuoli_yhteydet")[0]["Id"]
    sim.apply_change(ACCOUNT, "osapuoli_yhteydet", "delete", id=link)
    n_ccs = len(sim.items(ACCOUNT, "kustannuspaikat"))

    def sweep(days: int):
        sim.counter.reset()
        report = reconcile_account(
            world.engine,
            account,
            transport=world.transport,
            environ=world.environ,
            settings=FAST,
            now=world.clock.now + timedelta(days=days),
        )
        assert report.ok
        return report

    tonight = sweep(1)
    assert tonight.drifted == tonight.deferred == ["osapuoli_yhteydet"]
    assert tonight.incremental == ["kustannuspaikat", "ilmoitukset"]
    # 3 probes, 2 one-page incrementals, one listing per cost centre of the share.
    assert world.calls() == tonight.calls == 3 + 2 + nightly_share(n_ccs, 7)
    assert world.scalar(
        "SELECT deleted_at IS NULL FROM tampuuri.osapuoli_yhteydet WHERE id = :id", id=link
    )

    later = sweep(30)
    assert later.drifted == ["osapuoli_yhteydet"] and later.deferred == []
    assert world.calls() == later.calls
    assert_parity(world.engine, sim, ACCOUNT)
    assert world.scalar(
        "SELECT deleted_at IS NOT NULL FROM tampuuri.osapuoli_yhteydet WHERE id = :id", id=link
    )
