"""The BI access contract: a login IN ROLE tampuuri_bi reads every bi view and nothing
else (permission denied on tampuuri.* and ops.*, so never a raw `data` column), no bi view
has a data/tunnistautuminen column, and a turvakielto person's address, phone and e-mail
appear in no bi view's output, while an unprotected person's contact data stays visible."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from pipelines.warehouse.migrations import upgrade

from .seed import (
    add_cost_centre,
    add_link,
    add_notice,
    add_object,
    add_party,
    helsinki_noon,
    helsinki_today,
)

A = "yritys-a"
BI_VIEWS = {
    "api_calls_by_route_daily",
    "api_calls_daily",
    "apartment_occupants",
    "data_freshness",
    "ilmoitukset",
    "kohteet",
    "kustannuspaikat",
    "notice_lead_times",
    "notice_lead_times_monthly",
    "notices_per_apartment",
    "open_notices",
    "osapuolet",
    # The opt-in resources' views (config/resources/): created with their tables at every
    # upgrade, empty until an account opts in.
    "vuokrasopimukset",
    "asuntotarkastukset",
    "huoltokirjan_tehtavat",
    "asuntotarkastukset_huomiot",  # the inspections' remarks (a child table)
}
PROTECTED = {
    "katuosoite": "Salatie 9 B 27",
    "puhelin": "+358 40 999 8877",
    "sahkoposti": "salainen.henkilo@example.fi",
    "postinumero": "99870",
    "postitoimipaikka": "Inarinjärvi",
}
TUNNISTAUTUMINEN = ("121212-999X", "010101-123A")


def _seed_people(conn) -> None:
    today = helsinki_today(conn)
    add_cost_centre(conn, A, 1, "As Oy Koivu")
    add_object(conn, A, 51, cost_centre=1, tunnus="A 1")
    add_object(conn, A, 52, cost_centre=1, tunnus="B 27")
    add_party(
        conn,
        A,
        900,
        "Matti Meikäläinen",
        turvakielto=False,
        katuosoite="Koivutie 1 A 1",
        puhelin="040 100",
        sahkoposti="matti@example.fi",
        postinumero="00100",
        postitoimipaikka="Helsinki",
        tunnistautuminen=TUNNISTAUTUMINEN[1],
    )
    add_party(
        conn,
        A,
        902,
        "Salainen Henkilö",
        turvakielto=True,
        tunnistautuminen=TUNNISTAUTUMINEN[0],
        **PROTECTED,
    )
    # Unknown protection counts as protected.
    add_party(
        conn,
        A,
        903,
        "Tuntematon Tila",
        turvakielto=None,
        katuosoite="Piilotie 3",
        puhelin="040 303",
        sahkoposti="piilo@example.fi",
    )
    nested = {"Id": 902, "Turvakielto": True, **{k.capitalize(): v for k, v in PROTECTED.items()}}
    add_link(
        conn,
        A,
        1,
        party=900,
        kohde=51,
        rooli="Omistaja",
        alkupvm=today - timedelta(days=100),
        loppupvm=None,
    )
    add_link(
        conn,
        A,
        2,
        party=902,
        kohde=52,
        rooli="Asukas",
        alkupvm=today - timedelta(days=10),
        loppupvm=None,
        nested=nested,
    )
    add_link(
        conn,
        A,
        3,
        party=903,
        kohde=52,
        rooli="Omistaja",
        alkupvm=today - timedelta(days=10),
        loppupvm=None,
    )
    add_notice(conn, A, 10, cost_centre=1, luotu=helsinki_noon(conn, 3), tila="Uusi", huone_id=52)
    conn.execute(
        text(
            "INSERT INTO ops.api_calls (account, sent_at, method, route, status, duration_ms,"
            " trigger) VALUES (:a, now(), 'GET', 'osapuolet/yhteydet/selaa', 200, 5, 'manual')"
        ),
        {"a": A},
    )


def test_bi_views_are_exactly_the_expected_set(engine):
    with engine.connect() as conn:
        views = set(
            conn.execute(
                text("SELECT table_name FROM information_schema.views WHERE table_schema = 'bi'")
            ).scalars()
        )
        tables = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.tables"
                " WHERE table_schema = 'bi' AND table_type <> 'VIEW'"
            )
        ).scalar_one()
    assert views == BI_VIEWS
    assert tables == 0


def test_bi_role_reads_every_view_and_nothing_else(engine, bi_user):
    with engine.begin() as conn:
        _seed_people(conn)
    bi = bi_user()
    with bi.connect() as conn:
        for view in sorted(BI_VIEWS):
            conn.execute(text(f"SELECT * FROM bi.{view}")).all()
        assert conn.execute(text("SELECT count(*) FROM bi.osapuolet")).scalar_one() == 3

    forbidden = [
        "SELECT * FROM tampuuri.osapuolet",
        "SELECT * FROM tampuuri.osapuoli_yhteydet",
        "SELECT * FROM ops.api_calls",
        "SELECT * FROM ops.account_packages",
        "SELECT * FROM ops.sync_state",
        "SELECT ops.to_date('2025-01-01')",
        "CREATE TABLE public.bi_scratch (x int)",
        "CREATE VIEW bi.my_view AS SELECT 1 AS x",
    ] + [
        f"SELECT data FROM tampuuri.{table}"
        for table in (
            "kustannuspaikat",
            "kohteet",
            "osapuolet",
            "osapuoli_yhteydet",
            "ilmoitukset",
            "osapuolet_history",
            "osapuoli_yhteydet_history",
            "ilmoitukset_history",
        )
    ]
    for statement in forbidden:
        with bi.connect() as conn, pytest.raises(ProgrammingError) as caught:
            conn.execute(text(statement))
        assert caught.value.orig.sqlstate == "42501", statement  # insufficient_privilege


def test_no_bi_view_has_raw_or_identity_columns(engine):
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'bi'"
            )
        ).all()
    names = {column.lower() for _, column in columns}
    assert {view for view, _ in columns} == BI_VIEWS
    assert not names & {
        "data",
        "tunnistautuminen",
        "row_hash",
        "parametrit",
        "lisatiedot",
        "tyotehtavan_kuvaus",
        "otsikko",
        "ilmoittaja_id",
    }


def test_protected_contact_data_is_masked_everywhere(engine, bi_user):
    with engine.begin() as conn:
        _seed_people(conn)
    with bi_user().connect() as conn:
        parties = conn.execute(
            text(
                "SELECT osapuoli_id, nimi, turvakielto, sahkoposti, puhelin, katuosoite,"
                " postinumero, postitoimipaikka FROM bi.osapuolet ORDER BY osapuoli_id"
            )
        ).all()
        occupants = conn.execute(
            text(
                "SELECT kohde_id, rooli, osapuoli_id, osapuoli_nimi, sahkoposti, puhelin,"
                " katuosoite, postinumero, postitoimipaikka FROM bi.apartment_occupants"
                " ORDER BY kohde_id, yhteys_id"
            )
        ).all()
        # Every row of every view as text: no protected value, no identity number.
        dumps = {
            view: "\n".join(
                conn.execute(text(f"SELECT CAST(v AS text) FROM bi.{view} AS v")).scalars()
            )
            for view in sorted(BI_VIEWS)
        }

    masked = ("***",) * 5
    assert parties == [
        (
            900,
            "Matti Meikäläinen",
            False,
            "matti@example.fi",
            "040 100",
            "Koivutie 1 A 1",
            "00100",
            "Helsinki",
        ),
        (902, "Salainen Henkilö", True, *masked),
        (903, "Tuntematon Tila", None, *masked),
    ]
    assert occupants == [
        (
            51,
            "Omistaja",
            900,
            "Matti Meikäläinen",
            "matti@example.fi",
            "040 100",
            "Koivutie 1 A 1",
            "00100",
            "Helsinki",
        ),
        (52, "Asukas", None, "***", *masked),
        (52, "Omistaja", None, "***", *masked),
    ]
    assert "Koivutie 1 A 1" in dumps["osapuolet"]  # the scan does see unmasked values
    leaks = [
        (view, value)
        for view, dump in dumps.items()
        for value in (*PROTECTED.values(), "Piilotie 3", "piilo@example.fi", *TUNNISTAUTUMINEN)
        if value in dump
    ]
    assert leaks == []
    # The protected person is named in bi.osapuolet, but never next to an apartment.
    assert "Salainen Henkilö" not in dumps["apartment_occupants"]


def test_views_and_role_are_reapplied_on_every_upgrade(engine):
    # The template already ran upgrade() once; twice more re-creates views and re-grants.
    assert upgrade(engine) == []
    assert upgrade(engine) == []
    with engine.connect() as conn:
        granted = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.role_table_grants"
                " WHERE grantee = 'tampuuri_bi' AND privilege_type = 'SELECT'"
                " AND table_schema = 'bi'"
            )
        ).scalar_one()
        elsewhere = conn.execute(
            text(
                "SELECT count(*) FROM information_schema.role_table_grants"
                " WHERE grantee = 'tampuuri_bi' AND table_schema <> 'bi'"
            )
        ).scalar_one()
    assert granted == len(BI_VIEWS)
    assert elsewhere == 0
