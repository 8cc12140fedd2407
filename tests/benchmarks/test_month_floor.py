"""The month benchmark's floor (issue 19.3): greedy windows per route class, paged re-reads."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from month.floor import Delivery, month_floor

from pipelines.webhooks.events import load_event_mapping

START = datetime(2025, 7, 1, tzinfo=UTC)
PORTFOLIO = {
    "page_size": 250,
    "cost_centre_pages": {1: 1, 2: 1, 3: 2},
    "links": 19_594,
    "link_pages": 79,
}


def at(seconds: float) -> datetime:
    return START + timedelta(hours=8, seconds=seconds)


def floor_of(trace: list[Delivery], *, target_s: float = 60.0, cadence: int = 7) -> dict:
    return month_floor(
        trace,
        load_event_mapping(),
        PORTFOLIO,
        start=START,
        target_s=target_s,
        cadence_days=cadence,
        days=28,
    )


def test_a_call_at_the_first_unserved_arrival_plus_the_target_serves_what_came_meanwhile() -> None:
    notices = [
        Delivery(at(s), "IlmoitusUusi", 100 + i, None) for i, s in enumerate((0, 30, 60, 61, 200))
    ]
    floor = floor_of(notices)
    # [0, 60] holds 0, 30 and 60; 61 opens [61, 121]; 200 opens a third.
    assert floor["webhooks"] == {"ilmoitukset": 3}
    assert floor["webhook_windows"] == 3


def test_objects_cost_per_cost_centre_the_cheaper_of_details_and_its_pages() -> None:
    objects = [
        Delivery(at(0), "KohderekisteriTietoMuokkaa", 11, 1),
        Delivery(at(5), "KohderekisteriTietoMuokkaa", 12, 1),  # same cost centre: 1 page
        Delivery(at(10), "KohderekisteriTietoMuokkaa", 21, 2),  # another: its own call
        Delivery(at(0), "KohderekisteriTietoMuokkaa", 31, 3),
        Delivery(at(1), "KohderekisteriTietoPoista", 32, 3),
        Delivery(at(2), "KohderekisteriTietoMuokkaa", 33, 3),  # 3 objects, 2 pages: 2
    ]
    assert floor_of(objects)["webhooks"] == {"kohteet": 1 + 1 + 2}


def test_parties_take_the_batch_route_250_ids_a_call_and_ignored_types_nothing() -> None:
    parties = [Delivery(at(i / 10), "OsapuoliMuokkaa", 1000 + i, None) for i in range(300)]
    ignored = [Delivery(at(0), "DokumenttipankkiDokumenttiUusi", 5, None)]
    floor = floor_of([*parties, *ignored])
    assert floor["webhooks"] == {"osapuolet": 2}


def test_reconciliation_reads_every_list_once_per_cadence_amortised_over_the_days() -> None:
    floor = floor_of([], cadence=7)
    periods = 28 / 7
    assert floor["reconcile"] == {
        "kohteet": 4 * periods,  # pages of the three cost centres
        "osapuoli_yhteydet": 79 * periods,
        "kustannuspaikat": 2 * periods,  # change-since read + Total probe
        "ilmoitukset": 2 * periods,
    }
    assert floor["calls"] == pytest.approx((4 + 79 + 4) * periods)
    assert floor["webhook_calls"] == 0


def test_shareable_counts_periods_where_a_webhook_call_could_double_as_the_re_read() -> None:
    week = 7 * 86_400
    trace = [
        Delivery(at(0), "IlmoitusUusi", 1, None),
        Delivery(at(week), "IlmoitusUusi", 2, None),
        Delivery(at(10), "KohderekisteriTietoMuokkaa", 11, 3),  # 2 pages
    ]
    # notices: periods 0 and 1 (2 reads); cost centre 3: period 0 (its 2 pages).
    assert floor_of(trace)["shareable"] == 4
