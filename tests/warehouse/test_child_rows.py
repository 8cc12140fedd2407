"""Child tables (ChildSpec) written by the loader with their parents, in one transaction.

A parent inserted or changed gets its list's elements as rows (ordinal = position from 0,
data = the element verbatim, typed columns from an object element, NULL otherwise),
replacing the ones it had; a parent unchanged, stale or soft-deleted keeps its children
untouched (their xmin proves no rewrite). Every write path: a first load (no plan), the
plan and upsert, and a streaming load meeting its own rows again.
"""

from unittest import mock

import pytest

from pipelines.warehouse import loader
from pipelines.warehouse.loader import LoadCounts, ScopeLoad
from pipelines.warehouse.schema_sync import sync_tables
from pipelines.warehouse.tables import ChildSpec, Column, TableSpec

T0 = "2025-04-19T10:00:00+03:00"
T1 = "2025-04-20T10:00:00+03:00"
T2 = "2025-04-21T10:00:00+03:00"
NOTES = ChildSpec(
    "probe_inspections_notes",
    "Huomiot",
    (
        Column("kohta", "text", "Kohta", "text"),
        Column("n", "integer", "N", "integer"),
        Column("laji", "text", "Laji.Nimi", "text"),  # a nested value in the element
    ),
)
SPEC = TableSpec(
    name="probe_inspections",
    columns=(
        Column("kohde_id", "bigint", "KohdeId", "bigint"),
        Column("muokattu", "timestamptz", "Muokattu", "timestamptz"),
    ),
    changed_column="muokattu",
    known_fields=frozenset({"Id", "KohdeId", "Muokattu", "Huomiot"}),
    children=(NOTES,),
)
CHILDREN = "SELECT parent_id, ordinal, kohta, n, laji, data FROM tampuuri.probe_inspections_notes"


@pytest.fixture(autouse=True)
def tables(engine):
    with engine.begin() as conn:
        sync_tables(conn, [SPEC])


def item(id_, notes, muokattu=T1, **extra):
    return {"Id": id_, "KohdeId": 7, "Muokattu": muokattu, "Huomiot": notes, **extra}


def note(kohta, n=None):
    return {"Kohta": kohta, "N": n, "Laji": {"Nimi": f"laji-{kohta}"}}


def load(engine, *pages, account="acc-a", deleted_ids=(), stream=False):
    with engine.begin() as conn:
        scope_load = ScopeLoad(conn, SPEC, account=account, run_id="run-1", stream=stream)
        for page in pages:
            scope_load.stage(page)
        return scope_load.apply(deleted_ids=deleted_ids)


def children(fetch, account="acc-a"):
    return fetch(f"{CHILDREN} WHERE account = :a ORDER BY parent_id, ordinal", a=account)


def versions(fetch):
    """Each child row's key and its xmin: equal xmins mean the row was not rewritten."""
    return fetch(
        "SELECT parent_id, ordinal, xmin::text FROM tampuuri.probe_inspections_notes"
        " ORDER BY account, parent_id, ordinal"
    )


def test_a_first_load_writes_every_element(engine, fetch):
    mixed = [note("a", 1), "plain text", 5, None, [1, 2], {"N": "12"}]
    items = [
        item(1, [note("x", 1), note("y", 2), note("z")]),
        item(2, []),
        item(3, None),
        {"Id": 4, "KohdeId": 7},  # no list at all
        item(5, {"Kohta": "not a list"}),
        item(6, mixed),
    ]
    assert load(engine, items) == LoadCounts(inserted=6)
    assert children(fetch) == [
        (1, 0, "x", 1, "laji-x", note("x", 1)),
        (1, 1, "y", 2, "laji-y", note("y", 2)),
        (1, 2, "z", None, "laji-z", note("z")),
        (6, 0, "a", 1, "laji-a", note("a", 1)),
        (6, 1, None, None, None, "plain text"),
        (6, 2, None, None, None, 5),
        (6, 3, None, None, None, None),  # JSON null: data holds null
        (6, 4, None, None, None, [1, 2]),
        (6, 5, None, 12, None, {"N": "12"}),
    ]
    assert fetch(
        "SELECT count(*) FROM tampuuri.probe_inspections_notes WHERE data = 'null'::jsonb"
    ) == [(1,)]


def test_changed_parents_get_their_children_rewritten_and_the_others_keep_theirs(engine, fetch):
    load(engine, [item(1, [note("a"), note("b"), note("c")]), item(2, [note("d")]),
                  item(3, [note("e"), note("f")])])  # fmt: skip
    before = {(p, o): x for p, o, x in versions(fetch)}
    counts = load(
        engine,
        [
            item(1, [note("a2")], muokattu=T2),  # changed: 3 children become 1
            item(2, [note("d")]),  # unchanged
            item(3, [note("e"), note("f"), note("g")], muokattu=T0),  # older: stale
            item(4, [note("h"), note("i")]),  # new
        ],
    )
    assert counts == LoadCounts(inserted=1, updated=1, unchanged=1, stale=1)
    assert [(p, o, k) for p, o, k, *_ in children(fetch)] == [
        (1, 0, "a2"), (2, 0, "d"), (3, 0, "e"), (3, 1, "f"), (4, 0, "h"), (4, 1, "i"),
    ]  # fmt: skip
    after = {(p, o): x for p, o, x in versions(fetch)}
    assert {key for key in after if after[key] == before.get(key)} == {(2, 0), (3, 0), (3, 1)}
    # An emptied list leaves no children; the row it had is gone.
    assert load(engine, [item(1, [], muokattu=T2)]) == LoadCounts(updated=1)
    assert fetch(f"{CHILDREN} WHERE parent_id = 1") == []
    assert fetch("SELECT count(*) FROM tampuuri.probe_inspections_notes") == [(5,)]


def test_soft_deleted_parents_keep_their_children(engine, fetch):
    load(engine, [item(1, [note("a"), note("b")]), item(2, [note("c")])])
    before = versions(fetch)
    assert load(engine, [item(2, [note("c")])], deleted_ids=[1]) == LoadCounts(
        unchanged=1, deleted=1
    )
    assert versions(fetch) == before
    assert fetch("SELECT id FROM tampuuri.probe_inspections WHERE deleted_at IS NOT NULL") == [(1,)]
    # It comes back, same content: written again (an update), its children with it.
    assert load(engine, [item(1, [note("a"), note("b")])]) == LoadCounts(updated=1)
    assert [(p, o, k) for p, o, k, *_ in children(fetch)] == [(1, 0, "a"), (1, 1, "b"), (2, 0, "c")]


def test_accounts_keep_their_own_children(engine, fetch):
    load(engine, [item(1, [note("a"), note("b")])], account="acc-a")
    load(engine, [item(1, [note("z")])], account="acc-b")
    load(engine, [item(1, [note("y")], muokattu=T2)], account="acc-b")
    assert [(p, o, k) for p, o, k, *_ in children(fetch, "acc-a")] == [(1, 0, "a"), (1, 1, "b")]
    assert [(p, o, k) for p, o, k, *_ in children(fetch, "acc-b")] == [(1, 0, "y")]


def test_a_streaming_load_repeating_its_own_rows_keeps_the_last_copy(engine, fetch):
    pages = (
        [item(1, [note("a"), note("b")]), item(2, [note("c")])],
        [item(3, [note("d")])],
        [item(1, [note("a3")], muokattu=T2), item(2, [note("c")])],  # a drift re-pass
    )
    with mock.patch.object(loader, "STREAM_ROWS", 1):  # every page written as it comes
        assert load(engine, *pages, stream=True) == LoadCounts(inserted=3)
    assert [(p, o, k) for p, o, k, *_ in children(fetch)] == [
        (1, 0, "a3"),
        (2, 0, "c"),
        (3, 0, "d"),
    ]


def test_a_failed_load_leaves_the_children_as_they_were(engine, fetch):
    load(engine, [item(1, [note("a")])])
    before = children(fetch)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        scope_load = ScopeLoad(conn, SPEC, account="acc-a", run_id="run-2")
        scope_load.stage([item(1, [note("b"), note("c")], muokattu=T2)])
        assert scope_load.apply() == LoadCounts(updated=1)
        raise RuntimeError("the scan failed after the write")
    assert children(fetch) == before
