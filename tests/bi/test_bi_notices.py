"""The notice views: what counts as open, age buckets in Helsinki days, lead times from
history (first 'Tehty' / 'Valmis', Muokattu before valid_from), and notices per apartment.
Soft-deleted rows never count."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from .seed import add_cost_centre, add_notice, add_notice_version, add_object, helsinki_noon

A = "yritys-a"


def test_open_notices_by_cost_centre_and_age_bucket(engine):
    with engine.begin() as conn:
        add_cost_centre(conn, A, 1, "As Oy Koivu")
        add_cost_centre(conn, A, 2, "As Oy Vaahtera")
        add_notice(conn, A, 10, cost_centre=1, luotu=helsinki_noon(conn, 3), tila="Uusi")
        add_notice(conn, A, 11, cost_centre=1, luotu=helsinki_noon(conn, 7), tila="Työn alla")
        add_notice(conn, A, 12, cost_centre=1, luotu=helsinki_noon(conn, 10), tila="Uusi")
        add_notice(conn, A, 13, cost_centre=1, luotu=helsinki_noon(conn, 45), tila="Odottaa")
        add_notice(conn, A, 14, cost_centre=1, luotu=helsinki_noon(conn, 200), tila=None)
        add_notice(conn, A, 15, cost_centre=1, luotu=helsinki_noon(conn, 5), tila="Tehty")
        add_notice(conn, A, 16, cost_centre=1, luotu=helsinki_noon(conn, 5), tila="Valmis")
        add_notice(
            conn, A, 17, cost_centre=1, luotu=helsinki_noon(conn, 2), tila="Uusi", deleted=True
        )
        # 00:30 Helsinki today is still the previous day in UTC: age is 0, not 1.
        add_notice(conn, A, 20, cost_centre=2, luotu=helsinki_noon(conn, 0, hour=0), tila="Uusi")
        add_notice(conn, "yritys-b", 10, cost_centre=1, luotu=helsinki_noon(conn, 1), tila="Uusi")

    with engine.connect() as conn:
        notices = conn.execute(
            text(
                "SELECT account, ilmoitus_id, is_open, age_days, age_bucket"
                " FROM bi.ilmoitukset ORDER BY account, ilmoitus_id"
            )
        ).all()
        grouped = conn.execute(
            text(
                "SELECT account, kustannuspaikka_id, kustannuspaikka_nimi, age_bucket,"
                " age_bucket_order, open_notices, max_age_days"
                " FROM bi.open_notices ORDER BY account, kustannuspaikka_id, age_bucket_order"
            )
        ).all()

    assert notices == [
        (A, 10, True, 3, "0-7 days"),
        (A, 11, True, 7, "0-7 days"),
        (A, 12, True, 10, "8-30 days"),
        (A, 13, True, 45, "31-90 days"),
        (A, 14, True, 200, "91+ days"),
        (A, 15, False, None, None),
        (A, 16, False, None, None),
        (A, 20, True, 0, "0-7 days"),
        ("yritys-b", 10, True, 1, "0-7 days"),
    ]
    assert grouped == [
        (A, 1, "As Oy Koivu", "0-7 days", 1, 2, 7),
        (A, 1, "As Oy Koivu", "8-30 days", 2, 1, 10),
        (A, 1, "As Oy Koivu", "31-90 days", 3, 1, 45),
        (A, 1, "As Oy Koivu", "91+ days", 4, 1, 200),
        (A, 2, "As Oy Vaahtera", "0-7 days", 1, 1, 0),
        ("yritys-b", 1, None, "0-7 days", 1, 1, 1),
    ]


def test_lead_times_from_history(engine):
    with engine.begin() as conn:
        add_cost_centre(conn, A, 1, "As Oy Koivu")
        t0 = helsinki_noon(conn, 60)
        # 100: Uusi -> Työn alla -> Tehty (2.5 d) -> Valmis (4 d); synced an hour later
        # each time: Muokattu, not valid_from, is the milestone's time.
        add_notice(
            conn,
            A,
            100,
            cost_centre=1,
            luotu=t0,
            tila="Valmis",
            muokattu=t0 + timedelta(days=4),
            kiireellisyys="Kiireellinen",
        )
        sync_lag = timedelta(hours=1)
        for tila, offset in [("Uusi", 0), ("Työn alla", 1), ("Tehty", 2.5), ("Valmis", 4)]:
            at = t0 + timedelta(days=offset)
            add_notice_version(conn, A, 100, tila=tila, valid_from=at + sync_lag, muokattu=at)
        # 101: reopened after Tehty; the first Tehty counts. No Muokattu in the items:
        # valid_from is used.
        add_notice(
            conn,
            A,
            101,
            cost_centre=1,
            luotu=t0,
            tila="Tehty",
            muokattu=t0 + timedelta(days=9),
            kiireellisyys="Kiireellinen",
        )
        for tila, offset in [("Uusi", 0), ("Tehty", 1), ("Työn alla", 2), ("Tehty", 9)]:
            add_notice_version(
                conn, A, 101, tila=tila, valid_from=t0 + timedelta(days=offset), muokattu=None
            )
        # 102: first seen already closed (no history at all: the current row counts).
        add_notice(
            conn,
            A,
            102,
            cost_centre=1,
            luotu=t0,
            tila="Valmis",
            muokattu=t0 + timedelta(days=6),
            kiireellisyys="Kiireellinen",
        )
        # 103: still open; 104 deleted: not reported.
        add_notice(conn, A, 103, cost_centre=1, luotu=t0, tila="Uusi", kiireellisyys="Kiireellinen")
        add_notice(
            conn,
            A,
            104,
            cost_centre=1,
            luotu=t0,
            tila="Valmis",
            deleted=True,
            kiireellisyys="Kiireellinen",
        )
        created_month = conn.execute(
            text(
                "SELECT date_trunc('month', CAST(:t AS timestamptz)"
                " AT TIME ZONE 'Europe/Helsinki')::date"
            ),
            {"t": t0},
        ).scalar_one()

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ilmoitus_id, created_month, done_at, closed_at, days_to_done,"
                " days_to_closed, days_done_to_closed FROM bi.notice_lead_times"
                " ORDER BY ilmoitus_id"
            )
        ).all()
        monthly = conn.execute(
            text(
                "SELECT account, created_month, kiireellisyys, vikaluokka, notices, done,"
                " closed, avg_days_to_done, median_days_to_done, avg_days_to_closed,"
                " median_days_to_closed FROM bi.notice_lead_times_monthly"
            )
        ).all()

    d = Decimal
    assert rows == [
        (
            100,
            created_month,
            t0 + timedelta(days=2.5),
            t0 + timedelta(days=4),
            d("2.50"),
            d("4.00"),
            d("1.50"),
        ),
        (101, created_month, t0 + timedelta(days=1), None, d("1.00"), None, None),
        (102, created_month, None, t0 + timedelta(days=6), None, d("6.00"), None),
        (103, created_month, None, None, None, None, None),
    ]
    assert monthly == [
        (
            A,
            created_month,
            "Kiireellinen",
            "LVI",
            4,
            2,
            2,
            d("1.75"),
            d("1.75"),
            d("5.00"),
            d("5.00"),
        ),
    ]


def test_notices_per_apartment(engine):
    with engine.begin() as conn:
        add_cost_centre(conn, A, 1, "As Oy Koivu")
        add_object(conn, A, 50, cost_centre=1, metaname="porras", tunnus="A")
        add_object(conn, A, 51, cost_centre=1, tunnus="A 1")
        add_object(conn, A, 52, cost_centre=1, metaname="Huoneisto", tunnus="A 2")
        add_object(conn, A, 53, cost_centre=1, tunnus="A 3", deleted=True)
        add_notice(
            conn, A, 1, cost_centre=1, luotu=helsinki_noon(conn, 400), tila="Valmis", huone_id=51
        )
        add_notice(
            conn, A, 2, cost_centre=1, luotu=helsinki_noon(conn, 20), tila="Uusi", huone_id=51
        )
        add_notice(
            conn, A, 3, cost_centre=1, luotu=helsinki_noon(conn, 10), tila="Tehty", huone_id=51
        )
        add_notice(
            conn,
            A,
            4,
            cost_centre=1,
            luotu=helsinki_noon(conn, 5),
            tila="Uusi",
            huone_id=51,
            deleted=True,
        )
        add_notice(
            conn, A, 5, cost_centre=1, luotu=helsinki_noon(conn, 5), tila="Uusi", huone_id=50
        )
        add_notice(
            conn, A, 6, cost_centre=1, luotu=helsinki_noon(conn, 5), tila="Uusi", huone_id=53
        )

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kohde_id, kustannuspaikka_nimi, tunnus, notices_total, notices_open,"
                " notices_last_365_days FROM bi.notices_per_apartment ORDER BY kohde_id"
            )
        ).all()
    assert rows == [(51, "As Oy Koivu", "A 1", 3, 1, 2), (52, "As Oy Koivu", "A 2", 0, 0, 0)]
