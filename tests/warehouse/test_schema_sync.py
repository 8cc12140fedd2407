"""schema_sync.sync_tables: the mirrored tables derived from TableSpecs at `db upgrade`.

A new spec gets its table (0001's common columns), history table and indexes, declared
indexes and child tables; a column declared later is added and filled from the stored
`data`; a type change stops with a SchemaError naming the column; nothing is dropped; a
second run changes nothing. Specs are built here, so no declaration file is involved.
"""

import re

import pytest
from sqlalchemy import text

from pipelines.warehouse.loader import LoadCounts, ScopeLoad
from pipelines.warehouse.schema_sync import SchemaChange, SchemaError, sync_tables
from pipelines.warehouse.tables import TABLES, ChildSpec, Column, TableSpec

NIMI = Column("nimi", "text", "Nimi", "text")
MAARA = Column("maara", "numeric", "Maara", "numeric")
PVM = Column("pvm", "date", "Pvm", "date")
MUOKATTU = Column("muokattu", "timestamptz", "Muokattu", "timestamptz")
KOHTA = Column("kohta", "text", "Kohta", "text")
ORDINAL = Column("ordinal", "text", "O", "text")  # a child table's own column


def probe(*columns, name="probe_items", indexes=(), children=(), changed=None):
    return TableSpec(
        name=name,
        columns=columns,
        changed_column=changed,
        known_fields=frozenset({"Id", *(c.field for c in columns)}),
        indexes=indexes,
        children=children,
    )


def sync(engine, *specs):
    with engine.begin() as conn:
        return sync_tables(conn, specs)


def load(engine, spec, items, account="acc-a"):
    with engine.begin() as conn:
        scope_load = ScopeLoad(conn, spec, account=account, run_id="run-1")
        scope_load.stage(items)
        return scope_load.apply()


def columns(fetch, table):
    return fetch(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        " pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a"
        " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY a.attnum",
        t=f"tampuuri.{table}",
    )


def indexes(fetch, table):
    """Each index of the table as its definition with the table's name taken out."""
    found = fetch(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
        " WHERE indrelid = CAST(:t AS regclass) ORDER BY 1",
        t=f"tampuuri.{table}",
    )
    return sorted(row[0].replace(table, "<t>") for row in found)


def test_a_new_spec_gets_its_table_history_indexes_and_child_table(engine, fetch):
    child = ChildSpec("probe_items_rivit", "Rivit", (KOHTA, MAARA))
    spec = probe(NIMI, MAARA, PVM, indexes=(("pvm",), ("nimi", "pvm")), children=(child,))
    changes = sync(engine, spec)
    assert changes == [
        SchemaChange("create_table", "probe_items", "probe_items"),
        SchemaChange("create_history", "probe_items", "probe_items_history"),
        SchemaChange("create_index", "probe_items", "probe_items_pvm_idx"),
        SchemaChange("create_index", "probe_items", "probe_items_nimi_pvm_idx"),
        SchemaChange("create_table", "probe_items_rivit", "probe_items_rivit"),
    ]
    # The common columns exactly as 0001 made them for its tables, typed ones in between.
    common = [c for c in columns(fetch, "kustannuspaikat") if c[0] in ("account", "id")]
    rest = [c for c in columns(fetch, "kustannuspaikat") if c[0] not in ("account", "id")]
    rest = [c for c in rest if c[0] not in TABLES["kustannuspaikat"].column_names]
    typed = [("nimi", "text", False, None), ("maara", "numeric", False, None),
             ("pvm", "date", False, None)]  # fmt: skip
    assert columns(fetch, "probe_items") == common + typed + rest
    assert columns(fetch, "probe_items_history") == columns(fetch, "kustannuspaikat_history")
    assert indexes(fetch, "probe_items_history") == [
        i.replace("kustannuspaikat", "<t>") for i in indexes(fetch, "kustannuspaikat_history")
    ]
    assert indexes(fetch, "probe_items") == [
        "CREATE INDEX <t>_nimi_pvm_idx ON tampuuri.<t> USING btree (account, nimi, pvm)",
        "CREATE INDEX <t>_pvm_idx ON tampuuri.<t> USING btree (account, pvm)",
        "CREATE UNIQUE INDEX <t>_pkey ON tampuuri.<t> USING btree (account, id)",
    ]
    assert columns(fetch, "probe_items_rivit") == [
        ("account", "text", True, None), ("parent_id", "bigint", True, None),
        ("ordinal", "integer", True, None), ("kohta", "text", False, None),
        ("maara", "numeric", False, None), ("data", "jsonb", True, None),
    ]  # fmt: skip
    assert indexes(fetch, "probe_items_rivit") == [
        "CREATE UNIQUE INDEX <t>_pkey ON tampuuri.<t> USING btree (account, parent_id, ordinal)"
    ]
    # The new table takes rows at once, through the loader.
    assert load(engine, spec, [{"Id": 1, "Nimi": "a", "Maara": 2.5}]) == LoadCounts(inserted=1)
    assert fetch("SELECT id, nimi, maara::text, pvm FROM tampuuri.probe_items") == [
        (1, "a", "2.5", None)
    ]


def test_a_second_run_changes_nothing(engine, fetch):
    child = ChildSpec("probe_items_rivit", "Rivit", (KOHTA,))
    spec = probe(NIMI, PVM, indexes=(("pvm",),), children=(child,))
    assert len(sync(engine, spec)) == 4
    before = [(columns(fetch, t), indexes(fetch, t)) for t in ("probe_items", "probe_items_rivit")]
    assert sync(engine, spec) == []
    after = [(columns(fetch, t), indexes(fetch, t)) for t in ("probe_items", "probe_items_rivit")]
    assert after == before


def test_a_column_declared_later_is_added_and_filled_from_data(engine, fetch):
    v1 = probe(NIMI, MUOKATTU, changed="muokattu")
    sync(engine, v1)
    items = [
        {"Id": 1, "Nimi": "a", "Maara": 1.5, "Pvm": "2025-03-01T00:00:00"},
        {"Id": 2, "Nimi": "b", "Maara": "2,5"},  # the lenient cast: text with a comma
        {"Id": 3, "Nimi": "c", "Maara": "n/a", "Pvm": 7},  # shapes the casts make NULL
        {"Id": 4, "Nimi": "d"},
    ]
    assert load(engine, v1, items) == LoadCounts(inserted=4)
    stored = fetch("SELECT id, data, row_hash, changed_at FROM tampuuri.probe_items ORDER BY id")
    v2 = probe(NIMI, MUOKATTU, MAARA, PVM, changed="muokattu")
    assert sync(engine, v2) == [
        SchemaChange("add_column", "probe_items", "maara", 2),
        SchemaChange("add_column", "probe_items", "pvm", 1),
    ]
    filled = "SELECT id, nimi, maara::text, pvm::text FROM tampuuri.probe_items ORDER BY id"
    assert fetch(filled) == [
        (1, "a", "1.5", "2025-03-01"), (2, "b", "2.5", None), (3, "c", None, None),
        (4, "d", None, None),
    ]  # fmt: skip
    # The rows themselves are as they were: same data, hash and change time; no history.
    assert (
        fetch("SELECT id, data, row_hash, changed_at FROM tampuuri.probe_items ORDER BY id")
        == stored
    )
    assert fetch("SELECT count(*) FROM tampuuri.probe_items_history") == [(4,)]
    # The same values a load writes: unchanged rows stay unchanged, a new one gets them.
    again = [*items, {"Id": 5, "Maara": 3, "Pvm": "2025-03-02"}]
    assert load(engine, v2, again) == LoadCounts(inserted=1, unchanged=4)
    assert fetch("SELECT maara::text, pvm::text FROM tampuuri.probe_items WHERE id = 5") == [
        ("3", "2025-03-02")
    ]


def test_a_child_column_declared_later_is_filled_from_the_elements(engine, fetch):
    v1 = probe(NIMI, children=(ChildSpec("probe_items_rivit", "Rivit", (KOHTA,)),))
    sync(engine, v1)
    rivit = [{"Kohta": "x", "Maara": 4}, "plain", {"Kohta": "y"}]
    load(engine, v1, [{"Id": 1, "Rivit": rivit}])
    v2 = probe(NIMI, children=(ChildSpec("probe_items_rivit", "Rivit", (KOHTA, MAARA)),))
    assert sync(engine, v2) == [SchemaChange("add_column", "probe_items_rivit", "maara", 1)]
    assert fetch(
        "SELECT ordinal, kohta, maara::text, data FROM tampuuri.probe_items_rivit ORDER BY ordinal"
    ) == [(0, "x", "4", rivit[0]), (1, None, None, "plain"), (2, "y", None, rivit[2])]


def test_a_type_change_stops_the_upgrade_naming_the_column(engine, fetch):
    sync(engine, probe(NIMI, MAARA))
    retyped = Column("maara", "date", "Maara", "date")
    with pytest.raises(SchemaError) as caught:
        sync(engine, probe(NIMI, retyped, PVM))  # pvm is new: not added either
    assert str(caught.value) == (
        "tampuuri.probe_items.maara is numeric in the warehouse but declared date: change the"
        " declaration back to numeric, or rename the column in the declaration; the product"
        " never drops or retypes a column"
    )
    assert [c[0] for c in columns(fetch, "probe_items")].count("pvm") == 0
    # A built-in table's column, declared with another integer type.
    spec = TABLES["kohteet"]
    wider = tuple(
        Column(c.name, "bigint", c.field, "bigint") if c.name == "huoneistotyyppi_id" else c
        for c in spec.columns
    )
    with pytest.raises(SchemaError, match=r"tampuuri\.kohteet\.huoneistotyyppi_id is integer"):
        sync(engine, probe(*wider, name="kohteet"))


def test_type_names_are_compared_as_postgresql_knows_them(engine, fetch):
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE tampuuri.probe_items (account text NOT NULL, id int8 NOT NULL,"
                " n int4, t timestamp with time zone, m numeric(12, 2), data jsonb NOT NULL,"
                " row_hash text NOT NULL, PRIMARY KEY (account, id))"
            )
        )
    spec = probe(
        Column("n", "integer", "N", "integer"),
        Column("t", "timestamptz", "T", "timestamptz"),
        Column("m", "numeric", "M", "numeric"),
    )
    assert sync(engine, spec) == [
        SchemaChange("create_history", "probe_items", "probe_items_history")
    ]


def test_nothing_is_dropped(engine, fetch):
    sync(engine, probe(NIMI, MAARA, indexes=(("maara",),)))
    load(engine, probe(NIMI, MAARA), [{"Id": 1, "Nimi": "a", "Maara": 2}])
    before = columns(fetch, "probe_items"), indexes(fetch, "probe_items")
    assert sync(engine, probe(NIMI)) == []  # maara and its index no longer declared
    assert (columns(fetch, "probe_items"), indexes(fetch, "probe_items")) == before
    assert fetch("SELECT nimi, maara::text FROM tampuuri.probe_items") == [("a", "2")]


def test_an_index_on_the_same_columns_under_another_name_is_not_made_again(engine, fetch):
    sync(engine, probe(NIMI, PVM))
    with engine.begin() as conn:
        conn.execute(text("CREATE INDEX my_own ON tampuuri.probe_items (account, nimi)"))
        # Not the same index: a partial one, and one with another column order.
        conn.execute(text("CREATE INDEX part ON tampuuri.probe_items (account, pvm) WHERE false"))
        conn.execute(text("CREATE INDEX other ON tampuuri.probe_items (pvm, account)"))
    changes = sync(engine, probe(NIMI, PVM, indexes=(("nimi",), ("pvm",))))
    assert changes == [SchemaChange("create_index", "probe_items", "probe_items_pvm_idx")]
    # 0001's own: kohteet_scope_idx is the declared (account, kustannuspaikka_id).
    assert TABLES["kohteet"].indexes == (("kustannuspaikka_id",),)
    assert sync(engine, TABLES["kohteet"]) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (probe(Column("data", "text", "Data", "text")), "column data is one of the table's own"),
        (probe(Column("x", "varchar", "X", "text")), "type 'varchar' is none of text, bigint"),
        (probe(NIMI, indexes=(("pvm",),)), "index ['pvm']: not typed columns: ['pvm']"),
        (probe(NIMI, name="p" * 60), "is longer than PostgreSQL's 63 bytes"),
        (
            probe(children=(ChildSpec("probe_items_rivit", "R", (ORDINAL,)),)),
            "tampuuri.probe_items_rivit: column ordinal is one of the table's own",
        ),
    ],
)
def test_names_and_types_the_warehouse_cannot_make(engine, fetch, spec, message):
    with pytest.raises(SchemaError, match=re.escape(message)):
        sync(engine, spec)
    assert fetch(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'tampuuri' AND tablename LIKE 'p%'"
    ) == [(0,)]
