"""The BI views generated from the declarations (`bi:` in config/resources/): for the
cost centres, objects and parties they equal, column for column and row for row, the
hand-written views they replaced (kept in tests/bi/hand_written_views/ as the reference);
turvakielto masking fails closed; every declared view reaches the read-only role, and the
role still reads nothing in schema tampuuri."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from pipelines.declarations import load_declarations
from pipelines.warehouse.bi_views import view_statement
from tests.bi.seed import add_cost_centre, add_object, add_party

REFERENCE = Path(__file__).parent / "hand_written_views"
REPLACED = {
    "kustannuspaikat": "bi_kustannuspaikat.sql",
    "kohteet": "bi_kohteet.sql",
    "osapuolet": "bi_00_osapuolet.sql",
}
COLUMNS = text(
    "SELECT column_name, data_type FROM information_schema.columns"
    " WHERE table_schema = :schema AND table_name = :view ORDER BY ordinal_position"
)


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        add_cost_centre(conn, "a", 1, "As Oy Koivu")
        add_cost_centre(conn, "a", 2, "As Oy Mänty")
        add_object(conn, "a", 11, cost_centre=1, tunnus="A 1")
        add_object(conn, "a", 12, cost_centre=1, tunnus="A 2", deleted=True)
        contact = {"katuosoite": "Katu 1", "puhelin": "040 1", "sahkoposti": "x@example.fi"}
        add_party(conn, "a", 21, "Open Person", turvakielto=False, **contact)
        add_party(conn, "a", 22, "Protected Person", turvakielto=True, **contact)
        add_party(conn, "a", 23, "Unknown Person", turvakielto=None, **contact)
        add_party(conn, "a", 24, "Gone Person", turvakielto=False, deleted=True, **contact)


@pytest.mark.parametrize("view", sorted(REPLACED))
def test_a_generated_view_equals_the_hand_written_one(engine: Engine, view: str) -> None:
    _seed(engine)
    reference = (REFERENCE / REPLACED[view]).read_text(encoding="utf-8")
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA bi_reference"))
        conn.exec_driver_sql(reference.replace("VIEW bi.", "VIEW bi_reference."))
        generated = conn.execute(COLUMNS, {"schema": "bi", "view": view}).all()
        written = conn.execute(COLUMNS, {"schema": "bi_reference", "view": view}).all()
        assert generated == written
        rows = f"SELECT * FROM {{}}.{view} ORDER BY account, 2"  # view from REPLACED only
        got = conn.execute(text(rows.format("bi"))).all()
        assert got == conn.execute(text(rows.format("bi_reference"))).all()
        assert got, "the seed reaches every view"


def test_turvakielto_masks_true_and_unknown_and_hides_deleted_parties(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT osapuoli_id, katuosoite, puhelin FROM bi.osapuolet ORDER BY 1")
        ).all()
    assert rows == [(21, "Katu 1", "040 1"), (22, "***", "***"), (23, "***", "***")]


def test_every_declared_view_exists_and_only_bi_reaches_the_role(engine: Engine, bi_user) -> None:
    declared = [d.spec.bi.view for d in load_declarations().resources.values() if d.spec.bi]
    assert {"vuokrasopimukset", "asuntotarkastukset", "huoltokirjan_tehtavat"} <= set(declared)
    reader = bi_user()
    with reader.connect() as conn:
        for view in declared:  # names from the declarations
            conn.execute(text(f"SELECT * FROM bi.{view} LIMIT 1")).all()
    with reader.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("SELECT * FROM tampuuri.vuokrasopimukset LIMIT 1"))


def test_the_generated_sql_never_shows_the_raw_item() -> None:
    for declared in load_declarations().resources.values():
        bi = declared.spec.bi
        if bi is not None and bi.sql is None:
            statement = view_statement(declared).as_string(None)
            assert ".data" not in statement and "row_hash" not in statement


def test_the_inspections_remarks_view_shows_remarks_of_active_inspections(
    engine: Engine, bi_user
) -> None:
    """bi.asuntotarkastukset_huomiot: one row per remark, keyed to bi.asuntotarkastukset by
    asuntotarkastus_id; a soft-deleted inspection's remarks (kept in the table) are hidden;
    the role reads the view but not the table."""
    with engine.begin() as conn:
        for id_, deleted in ((31, False), (32, True)):
            conn.execute(
                text(
                    "INSERT INTO tampuuri.asuntotarkastukset (account, id, kohde_id, tila, data,"
                    " row_hash, deleted_at) VALUES ('a', :id, 11, 'Valmis', '{}'::jsonb, 'h',"
                    " CASE WHEN :deleted THEN now() END)"
                ),
                {"id": id_, "deleted": deleted},
            )
            for ordinal in (0, 1):
                conn.execute(
                    text(
                        "INSERT INTO tampuuri.asuntotarkastukset_huomiot (account, parent_id,"
                        " ordinal, kohta, kuvaus, kiireellisyys, data) VALUES ('a', :id, :o,"
                        " 'Keittiö', 'Hana vuotaa', 'Kiireellinen', '{}'::jsonb)"
                    ),
                    {"id": id_, "o": ordinal},
                )
        columns = conn.execute(COLUMNS, {"schema": "bi", "view": "asuntotarkastukset_huomiot"})
        assert [c.column_name for c in columns] == [
            "account", "asuntotarkastus_id", "ordinal", "kohta", "kuvaus", "kiireellisyys",
        ]  # fmt: skip
    reader = bi_user()
    with reader.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT h.asuntotarkastus_id, h.ordinal, t.tila"
                " FROM bi.asuntotarkastukset_huomiot AS h"
                " JOIN bi.asuntotarkastukset AS t USING (account, asuntotarkastus_id)"
                " ORDER BY 1, 2"
            )
        ).all()
    assert rows == [(31, 0, "Valmis"), (31, 1, "Valmis")]
    with reader.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("SELECT * FROM tampuuri.asuntotarkastukset_huomiot LIMIT 1"))
