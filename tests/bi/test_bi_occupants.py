"""bi.apartment_occupants: the current parties of each active apartment (current by
Helsinki date, both ends inclusive), vacant apartments kept, and a turvakielto party never
identified next to an apartment (osapuoli_id NULL, name and contacts '***')."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from .seed import add_cost_centre, add_link, add_object, add_party, helsinki_today

A = "yritys-a"


def test_current_owners_tenants_and_residents(engine):
    with engine.begin() as conn:
        today = helsinki_today(conn)
        day = timedelta(days=1)
        add_cost_centre(conn, A, 1, "As Oy Koivu")
        add_object(conn, A, 51, cost_centre=1, tunnus="A 1")
        add_object(conn, A, 52, cost_centre=1, tunnus="A 2")
        add_object(conn, A, 53, cost_centre=1, tunnus="A 3")  # vacant
        add_object(conn, A, 54, cost_centre=1, metaname="autopaikka", tunnus="P 1")
        add_party(
            conn,
            A,
            900,
            "Matti Meikäläinen",
            turvakielto=False,
            katuosoite="Koivutie 1 A 1",
            puhelin="040 100",
            sahkoposti="matti@example.fi",
        )
        add_party(
            conn,
            A,
            901,
            "Teppo Vuokralainen",
            turvakielto=False,
            katuosoite="Koivutie 1 A 1",
            puhelin="040 101",
            sahkoposti="teppo@example.fi",
        )
        add_party(
            conn,
            A,
            902,
            "Salainen Henkilö",
            turvakielto=True,
            katuosoite="Salatie 9",
            puhelin="040 999",
            sahkoposti="salainen@example.fi",
        )
        # A 1: owner open-ended; tenant ended yesterday; next tenant starts tomorrow;
        # resident ends today (still current); a deleted link.
        add_link(
            conn,
            A,
            1,
            party=900,
            kohde=51,
            rooli="Omistaja",
            alkupvm=today - 400 * day,
            loppupvm=None,
        )
        add_link(
            conn,
            A,
            2,
            party=901,
            kohde=51,
            rooli="Vuokralainen",
            alkupvm=today - 30 * day,
            loppupvm=today - day,
        )
        add_link(
            conn,
            A,
            3,
            party=901,
            kohde=51,
            rooli="Vuokralainen",
            alkupvm=today + day,
            loppupvm=None,
        )
        add_link(conn, A, 4, party=901, kohde=51, rooli="Asukas", alkupvm=today, loppupvm=today)
        add_link(
            conn,
            A,
            5,
            party=900,
            kohde=51,
            rooli="Asukas",
            alkupvm=today - day,
            loppupvm=None,
            deleted=True,
        )
        # A 2: a protected resident and an owner whose party row is not loaded yet.
        add_link(
            conn, A, 6, party=902, kohde=52, rooli="Asukas", alkupvm=today - 10 * day, loppupvm=None
        )
        add_link(conn, A, 7, party=999, kohde=52, rooli="Omistaja", alkupvm=None, loppupvm=None)
        # A parking space's link: not an apartment.
        add_link(
            conn,
            A,
            8,
            party=900,
            kohde=54,
            rooli="Vuokralainen",
            alkupvm=today - day,
            loppupvm=None,
        )

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kohde_id, tunnus, yhteys_id, rooli, alkupvm, loppupvm, osapuoli_id,"
                " osapuoli_nimi, turvakielto, sahkoposti, puhelin, katuosoite"
                " FROM bi.apartment_occupants ORDER BY kohde_id, yhteys_id"
            )
        ).all()

    assert rows == [
        (
            51,
            "A 1",
            1,
            "Omistaja",
            today - 400 * day,
            None,
            900,
            "Matti Meikäläinen",
            False,
            "matti@example.fi",
            "040 100",
            "Koivutie 1 A 1",
        ),
        (
            51,
            "A 1",
            4,
            "Asukas",
            today,
            today,
            901,
            "Teppo Vuokralainen",
            False,
            "teppo@example.fi",
            "040 101",
            "Koivutie 1 A 1",
        ),
        (52, "A 2", 6, "Asukas", today - 10 * day, None, None, "***", True, "***", "***", "***"),
        (52, "A 2", 7, "Omistaja", None, None, None, "***", None, None, None, None),
        (53, "A 3", None, None, None, None, None, None, None, None, None, None),
    ]
