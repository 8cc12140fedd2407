"""Reconciliation: after the receiver missed all 5 delivery attempts of a bundle, the sweep
restores parity with the simulator, spending fewer calls than a full sync would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from pipelines.budget.shaping import nightly_share
from pipelines.simulator import FaultConfig
from pipelines.sync.drift import worth_locating
from pipelines.sync.reconcile import reconcile_account
from pipelines.tampuuri.catalogue import load_catalogue
from tests.sync.helpers import (
    assert_parity,
    fill_ledger,
    ledger_by_key,
    minimum_full_sync_calls,
    sim_by_key,
)

from .conftest import ACCOUNT, FAST, make_world, statements_on_the_loop


def _sweep(world, days: float, **kwargs):
    """The sweep `days` after the world's clock, on the world's simulator."""
    return reconcile_account(
        world.engine,
        kwargs.pop("account", world.account),
        transport=world.transport,
        environ=world.environ,
        settings=FAST,
        now=world.clock.now + timedelta(days=days),
        **kwargs,
    )


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
    report = _sweep(world, 1)  # the next night's sweep
    assert report.ok
    assert sorted(report.drifted) == ["ilmoitukset", "osapuoli_yhteydet"]
    assert report.deferred == []
    # The notices' drift (a new notice whose webhook was lost) is settled by their
    # change-since incremental, which also brings the updated notice; the links' by one
    # read of the list's end (a new link, no deletions).
    assert list(report.located) == ["osapuoli_yhteydet"]
    found = report.located["osapuoli_yhteydet"]
    assert found.settled and found.calls == 1 and len(found.new_items) == 1
    assert report.incremental == ["kustannuspaikat", "ilmoitukset"]
    # The coverage floor of the stalest cost centres, the stalest one among them.
    n_ccs = len(sim.items(ACCOUNT, "kustannuspaikat"))
    night = (world.clock.now + timedelta(days=1)).date()
    assert len(report.cost_centres) == nightly_share(n_ccs, 7, night) < n_ccs
    assert int(stalest) in report.cost_centres
    assert_parity(world.engine, sim, ACCOUNT)
    assert report.calls == world.calls()
    assert report.calls < minimum_full_sync_calls(sim, ACCOUNT)


def test_a_drifted_list_waits_for_its_rescan_period(engine):
    """The frugal setting (on_drift "wait", list_rescan_period_days 30): a deleted link
    (no webhook) is not worth searching every night: the drift is reported as deferred
    until the link list's monthly full read."""
    world = make_world(engine, scale=2500)
    sim = world.sim
    budget = world.account.budget.model_copy(
        update={"list_rescan_period_days": 30, "on_drift": "wait"}
    )
    account = world.account.model_copy(update={"budget": budget})
    link = sim.items(ACCOUNT, "osapuoli_yhteydet")[0]["Id"]
    sim.apply_change(ACCOUNT, "osapuoli_yhteydet", "delete", id=link)
    n_ccs = len(sim.items(ACCOUNT, "kustannuspaikat"))

    def sweep(days: int):
        sim.counter.reset()
        report = _sweep(world, days, account=account)
        assert report.ok
        return report

    tonight = sweep(1)
    assert tonight.drifted == tonight.deferred == ["osapuoli_yhteydet"]
    assert tonight.incremental == ["kustannuspaikat", "ilmoitukset"]
    # 3 probes, 2 one-page incrementals, one listing per cost centre of the share.
    night = (world.clock.now + timedelta(days=1)).date()
    assert world.calls() == tonight.calls == 3 + 2 + nightly_share(n_ccs, 7, night)
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


def _small_pages():
    # Pages of 25 rows: the bisection has many pages to search at a small scale.
    return dataclasses.replace(load_catalogue(), max_page_size=25)


def test_deleted_links_are_found_by_bisection_not_a_full_rescan(engine):
    world = make_world(engine, scale=2500)
    sim = world.sim
    links = sim.items(ACCOUNT, "osapuoli_yhteydet")
    pages = math.ceil(len(links) / 25)
    gone = [links[137]["Id"], links[len(links) - 40]["Id"]]
    for link in gone:
        sim.apply_change(ACCOUNT, "osapuoli_yhteydet", "delete", id=link)
    # A new link whose webhook was lost: the read of the list's end brings it.
    sim.apply_change(ACCOUNT, "osapuoli_yhteydet", "insert", fields={})
    sim.counter.reset()
    blocked = statements_on_the_loop(world.engine)
    report = _sweep(world, 1, catalogue=_small_pages())
    assert report.ok
    assert blocked == []  # the probes' and the search's SQL ran off the event loop
    located = report.located["osapuoli_yhteydet"]
    assert located.settled and sorted(located.deleted) == sorted(gone)
    assert len(located.new_items) == 1
    # The end, at most ~log2(pages) reads per deletion, one KohdeId re-scan per deletion.
    assert located.calls <= 1 + 1 + 2 * math.ceil(math.log2(pages)) + 2 < pages
    # No full re-scan of the link list ran (links are synced by the osapuolet asset).
    assert all(rr.resource != "osapuolet" for r in report.reports for rr in r.resources)
    assert report.calls == world.calls()
    assert_parity(world.engine, sim, ACCOUNT)


def test_drift_the_search_cannot_explain_falls_back_to_a_full_rescan(engine):
    world = make_world(engine, scale=2500)
    sim = world.sim
    links = sim.items(ACCOUNT, "osapuoli_yhteydet")
    for link in links[10:40]:  # too many deletions for a search to pay off
        sim.apply_change(ACCOUNT, "osapuoli_yhteydet", "delete", id=link["Id"])
    sim.counter.reset()
    report = _sweep(world, 1, catalogue=_small_pages())
    assert report.ok
    located = report.located["osapuoli_yhteydet"]
    # The end read starts too late (30 deletions > its margin of 24 rows): given up
    # after that one call, and the list is re-read in full.
    assert not located.settled and "newest known row" in located.reason
    assert located.calls == 1
    assert report.calls == world.calls()
    assert_parity(world.engine, sim, ACCOUNT)


def test_a_search_is_chosen_only_when_it_beats_the_full_list():
    # 79 pages (the reference portfolio's links): up to 9 deletions of ~8 calls each.
    assert worth_locating(1, 79) and worth_locating(9, 79)
    assert not worth_locating(10, 79)
    assert not worth_locating(1, 4)
    assert not worth_locating(0, 79)


def test_a_lost_party_update_shows_at_the_link_lists_periodic_read(engine):
    """Parties have no list of their own: they arrive nested in links, which have no
    change-since filter. A party change whose webhook was lost moves no Total, so the
    sweep re-reads the link list once per list_rescan_period_days (default 7) even
    without drift."""
    world = make_world(engine, scale=300)
    sim = world.sim
    party = sim.items(ACCOUNT, "osapuolet")[0]["Id"]
    world.clock.now += timedelta(seconds=1)
    sim.apply_change(ACCOUNT, "osapuolet", "update", id=party)  # its webhook is lost

    def sweep(days: int):
        sim.counter.reset()
        report = _sweep(world, days)
        assert report.ok and report.drifted == [] and report.calls == world.calls()
        return report

    assert all(rr.resource != "osapuolet" for r in sweep(3).reports for rr in r.resources)
    with pytest.raises(AssertionError):  # the party is still stale
        assert_parity(world.engine, sim, ACCOUNT)
    week = sweep(8)
    assert any(rr.resource == "osapuolet" for r in week.reports for rr in r.resources)
    assert_parity(world.engine, sim, ACCOUNT)


def test_a_spent_package_defers_the_sweep_before_its_first_call(engine):
    world = make_world(engine, scale=300)
    package = world.account.model_copy(update={"package": "standard"})
    fill_ledger(world.engine, ACCOUNT, 2000)  # Standard: 2,000 calls a month, all spent
    report = _sweep(world, 0, account=package)
    assert not report.ok and report.calls == world.calls() == 0
    assert report.deferred_reason and "deferred" in report.deferred_reason
    assert report.totals == {} and report.reports == []


def test_the_search_under_faults_keeps_parity_and_a_true_ledger(engine):
    """5xx, 429 with Retry-After and truncated bodies during the sweep's search: the
    retries are billed and recorded; the warehouse ends equal to the simulator."""
    world = make_world(engine, scale=2500)
    sim = world.sim
    links = sim.items(ACCOUNT, "osapuoli_yhteydet")
    gone = [links[60]["Id"], links[len(links) - 90]["Id"]]
    for link in gone:
        sim.apply_change(ACCOUNT, "osapuoli_yhteydet", "delete", id=link)
    with world.engine.begin() as conn:
        conn.execute(text("DELETE FROM ops.api_calls"))  # the ledger of this sweep only
    sim.counter.reset()
    sim.faults.configure(
        FaultConfig(
            error_rate=0.1, rate_limit_rate=0.05, retry_after_s=0.01, truncate_rate=0.05, seed=5
        )
    )
    report = _sweep(world, 1, catalogue=_small_pages())
    sim.faults.configure(FaultConfig())
    assert report.ok
    located = report.located["osapuoli_yhteydet"]
    assert located.settled and sorted(located.deleted) == sorted(gone)
    assert_parity(world.engine, sim, ACCOUNT)
    billed = sim_by_key(sim)
    assert any(status != 200 for (_, _, _, status) in billed)  # faults did happen
    assert ledger_by_key(world.engine) == billed
