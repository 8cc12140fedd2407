"""The targeted refresh's plan comes from the declarations (issue 18): the method per
target (`refresh: {one, many}`, the action), the order (`priority`), which secondary ids
are cost-centre hints, which rows end with a deleted one, and the budget estimate."""

from __future__ import annotations

import pytest

from pipelines.declarations import load_declarations
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.webhooks.refresh_plan import (
    expected_calls,
    hints_cost_centre,
    method_for,
    target_order,
)
from pipelines.webhooks.refresh_store import ended_with


@pytest.mark.parametrize(
    ("resource", "action", "n", "method"),
    [
        ("kustannuspaikat", "refresh", 1, "change_since_scan"),
        ("kustannuspaikat", "refresh", 4, "change_since_scan"),
        ("kohteet", "refresh", 1, "scope_scan"),  # groups of one take `one` (detail)
        ("kohteet", "delete", 3, "detail"),
        ("osapuolet", "refresh", 1, "batch"),
        ("osapuolet", "delete", 7, "batch"),
        ("osapuoli_yhteydet", "refresh_scope", 2, "scope"),
        ("ilmoitukset", "refresh", 1, "detail"),
        ("ilmoitukset", "refresh", 2, "change_since_scan"),
        ("vuokrasopimukset", "refresh", 1, "detail"),
        ("vuokrasopimukset", "refresh", 9, "change_since_scan"),
        ("asuntotarkastukset", "refresh", 1, "detail"),
        ("asuntotarkastukset", "refresh", 3, "change_since_scan"),
    ],
)
def test_method_follows_the_declaration(resource, action, n, method):
    assert method_for(load_declarations()[resource], action, n) == method


def test_targets_run_in_priority_order():
    targets = {(name, "refresh"): (1,) for name in reversed(list(load_declarations().resources))}
    ordered = [resource for (resource, _), _ in sorted(targets.items(), key=target_order)]
    assert ordered[:5] == [
        "kustannuspaikat",
        "kohteet",
        "osapuolet",
        "osapuoli_yhteydet",
        "ilmoitukset",
    ]
    assert ordered.index("vuokrasopimukset") < ordered.index("asuntotarkastukset")


def test_cost_centre_hints_only_where_the_secondary_is_the_rows_own_cost_centre():
    d = load_declarations()
    assert hints_cost_centre(d["kohteet"], "kustannuspaikka")
    assert not hints_cost_centre(d["osapuoli_yhteydet"], "osapuoli")
    assert not hints_cost_centre(d["asuntotarkastukset"], "kohde")
    assert not hints_cost_centre(d["ilmoitukset"], None)


def test_deleted_objects_and_parties_end_their_links_only():
    assert ended_with("kohteet") == [("osapuoli_yhteydet", "kohde_id")]
    assert ended_with("osapuolet") == [("osapuoli_yhteydet", "osapuoli_id")]
    assert ended_with("ilmoitukset") == []
    assert ended_with("vuokrasopimukset") == []


def test_budget_estimate_of_opt_in_targets():
    catalogue = load_catalogue()
    assert expected_calls(catalogue, {("vuokrasopimukset", "refresh"): (1,)}) == 1
    assert expected_calls(catalogue, {("vuokrasopimukset", "refresh"): (1, 2, 3)}) == 1
    assert expected_calls(catalogue, {("asuntotarkastukset", "refresh"): (5,)}) == 1
    assert expected_calls(catalogue, {("osapuolet", "refresh"): tuple(range(600))}) == 3
    assert expected_calls(catalogue, {("kohteet", "refresh"): (1, 2, 3)}) == 3
