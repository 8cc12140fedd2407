"""A `fan_out` column (Column.source == "fan_out"): the id a per-cost-centre list was called
for, which its items do not carry. The loader stages it beside each row, per page
(`stage(items, fan_out_id=...)`, or `encode(..., fan_out_id=...)` for pages joined into
one COPY), and the writes put it into the column; other tables stage as before."""

import pytest

from pipelines.warehouse.encoding import join_pages
from pipelines.warehouse.loader import LoadCounts, Scope, ScopeLoad
from pipelines.warehouse.schema_sync import sync_tables
from pipelines.warehouse.tables import Column, TableSpec

SPEC = TableSpec(
    name="probe_tasks",
    columns=(
        Column("kustannuspaikka_id", "bigint", "", "bigint", source="fan_out"),
        Column("nimi", "text", "Nimi", "text"),
        Column("muokattu", "timestamptz", "Muokattu", "timestamptz"),
    ),
    changed_column="muokattu",
    known_fields=frozenset({"Id", "Nimi", "Muokattu"}),
)
T1 = "2025-04-20T10:00:00+03:00"
T2 = "2025-04-21T10:00:00+03:00"


@pytest.fixture(autouse=True)
def tables(engine):
    with engine.begin() as conn:
        sync_tables(conn, [SPEC])


def task(id_, nimi="t", muokattu=T1):
    return {"Id": id_, "Nimi": nimi, "Muokattu": muokattu}


def stored(fetch):
    return fetch("SELECT id, kustannuspaikka_id, nimi FROM tampuuri.probe_tasks ORDER BY id")


def test_each_page_writes_the_id_it_was_listed_for(engine, fetch):
    with engine.begin() as conn:
        load = ScopeLoad(conn, SPEC, account="acc-a", run_id="r1")
        load.stage([task(1), task(2)], fan_out_id=100)
        joined = join_pages([load.encode([task(3)], fan_out_id=200), load.encode([task(4)])])
        load.stage(joined)
        assert load.apply() == LoadCounts(inserted=4)
    assert stored(fetch) == [(1, 100, "t"), (2, 100, "t"), (3, 200, "t"), (4, None, "t")]
    # The plan path: a changed row takes the id of the list it was seen in now.
    with engine.begin() as conn:
        load = ScopeLoad(
            conn, SPEC, account="acc-a", run_id="r2", scope=Scope("kustannuspaikka_id", (100,))
        )
        load.stage([task(1, "moved", T2), task(2)], fan_out_id=300)
        assert [m.id for m in load.missing()] == []
        assert load.apply() == LoadCounts(updated=1, unchanged=1)
    assert stored(fetch)[:2] == [(1, 300, "moved"), (2, 100, "t")]


def test_a_fan_out_id_for_a_table_without_the_column_is_refused(engine):
    with engine.begin() as conn:
        load = ScopeLoad(conn, "kohteet", account="acc-a", run_id="r1")
        with pytest.raises(ValueError, match="has no fan_out column"):
            load.stage([{"Id": 1}], fan_out_id=5)
    with engine.begin() as conn:
        load = ScopeLoad(conn, SPEC, account="acc-a", run_id="r1")
        with pytest.raises(ValueError, match="give a page's fan_out_id to encode"):
            load.stage(load.encode([task(1)]), fan_out_id=5)
