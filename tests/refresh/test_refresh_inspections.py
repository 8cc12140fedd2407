"""Webhook refresh of an opt-in resource with a child table (issue 18): an account opting
in to the apartment inspections refreshes exactly the rows its events name, from the
declaration's `refresh: {one: detail, many: change_since_scan}`, and the remarks
(`Huomiot`) in tampuuri.asuntotarkastukset_huomiot are rewritten with their inspection.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from .conftest import ACCOUNT, World, make_world

INSPECTIONS = "asuntotarkastukset"
REMARKS = "SELECT kohta, kuvaus, kiireellisyys FROM tampuuri.asuntotarkastukset_huomiot"


@pytest.fixture
def opted(engine) -> World:
    """A simulator account opting in to inspections, fully synced, counters zeroed."""
    return make_world(engine, resources=[INSPECTIONS])


def _remarks(world: World, parent: int) -> list[tuple]:
    sql = text(REMARKS + " WHERE account = :a AND parent_id = :p ORDER BY ordinal")
    with world.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sql, {"a": ACCOUNT, "p": parent})]


def test_five_changed_inspections_cost_one_change_since_scan(opted: World):
    rows = opted.sim.items(ACCOUNT, INSPECTIONS)[:5]
    assert len(rows) == 5
    events: list[dict] = []
    for n, row in enumerate(rows):
        opted.clock.now += timedelta(milliseconds=5)
        events += opted.change(INSPECTIONS, "update", id=row["Id"], fields={"Tila": f"tila-{n}"})
    assert [e["Action"] for e in events] == ["AsuntotarkastusTilamuutos"] * 5
    opted.deliver(events)
    result = opted.process(run_id="run-inspections")
    assert (result.events, result.done, result.ignored, result.failed) == (5, 5, 0, 0)
    assert opted.calls_by_route() == {("GET", "asuntotarkastukset/selaa", 200): 1}
    assert result.calls == 1
    for n, row in enumerate(rows):
        tila = opted.scalar(
            "SELECT tila FROM tampuuri.asuntotarkastukset WHERE account = :a AND id = :i",
            a=ACCOUNT,
            i=row["Id"],
        )
        assert tila == f"tila-{n}"
    runs = "SELECT count(*) FROM ops.sync_runs WHERE run_id = 'run-inspections'"
    assert opted.scalar(runs + " AND resource = 'asuntotarkastukset' AND status = 'success'") == 1


def test_changed_remarks_rewrite_the_child_rows(opted: World):
    row = next(r for r in opted.sim.items(ACCOUNT, INSPECTIONS) if len(r["Huomiot"]) >= 2)
    assert len(_remarks(opted, row["Id"])) == len(row["Huomiot"])
    new = [{"Kohta": "keittiö", "Kuvaus": "hana vuotaa", "Kiireellisyys": "kiireellinen"}]
    opted.clock.now += timedelta(milliseconds=5)
    events = opted.change(
        INSPECTIONS, "update", id=row["Id"], fields={"Huomiot": new, "Tila": "uusi"}
    )
    opted.deliver(events)
    result = opted.process(run_id="run-remarks")
    assert (result.done, result.failed) == (len(events), 0)
    assert opted.calls_by_route() == {("GET", "asuntotarkastukset/{id}", 200): 1}
    assert _remarks(opted, row["Id"]) == [("keittiö", "hana vuotaa", "kiireellinen")]
    # Another inspection's remarks are untouched.
    other = next(
        r for r in opted.sim.items(ACCOUNT, INSPECTIONS) if r["Id"] != row["Id"] and r["Huomiot"]
    )
    expected = [(h["Kohta"], h["Kuvaus"], h["Kiireellisyys"]) for h in other["Huomiot"]]
    assert _remarks(opted, other["Id"]) == expected


def test_a_new_inspection_is_one_detail_call(opted: World):
    apartment = opted.sim.items(ACCOUNT, INSPECTIONS)[0]["KohdeId"]
    opted.clock.now += timedelta(milliseconds=5)
    events = opted.change(INSPECTIONS, "insert", fields={"KohdeId": apartment})
    assert [e["Action"] for e in events] == ["AsuntotarkastusUusi"]
    new_id = events[0]["ReferenceId"]
    opted.deliver(events)
    result = opted.process(run_id="run-new-inspection")
    assert (result.done, result.failed) == (1, 0)
    assert opted.calls_by_route() == {("GET", "asuntotarkastukset/{id}", 200): 1}
    stored = "SELECT count(*) FROM tampuuri.asuntotarkastukset WHERE account = :a AND id = :i"
    assert opted.scalar(stored, a=ACCOUNT, i=new_id) == 1
