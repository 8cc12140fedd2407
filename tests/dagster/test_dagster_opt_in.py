"""Opt-in resources in Dagster: their assets exist once an account opts in, with the
description, upstream assets and freshness policy of their declarations; each account's
nightly run selects the assets it syncs; an opt-in asset materialised for an account that
does not opt in fails saying so, and its checks pass as "does not sync"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from pipelines import definitions
from pipelines.declarations import load_declarations
from pipelines.resources import TampuuriResource, WarehouseResource

BUILT_IN = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")
OPT_IN = ("vuokrasopimukset", "asuntotarkastukset", "huoltokirjan_tehtavat")


def _accounts(tmp_path: Path, opted: dict[str, list[str]]) -> Path:
    accounts = [
        {
            "name": name,
            "base_url": "http://127.0.0.1:1/v10/api/",
            "credentials": {
                k: f"UNSET_{k.upper()}"
                for k in ("api_key", "customer_name", "account_name", "username", "password")
            },
            "resources": resources,
        }
        for name, resources in opted.items()
    ]
    path = tmp_path / "accounts.yaml"
    path.write_text(yaml.safe_dump({"accounts": accounts}), encoding="utf-8")
    return path


@pytest.fixture
def mixed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    """acc-a opts in to all three, acc-b to none."""
    path = _accounts(tmp_path, {"acc-a": list(OPT_IN), "acc-b": []})
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(path))
    return definitions.defs()


def test_no_account_opting_in_means_no_opt_in_assets(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TAMPUURI_ACCOUNTS_FILE", str(_accounts(tmp_path, {"acc-b": []})))
    graph = definitions.defs().get_repository_def().asset_graph
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == {*BUILT_IN, "call_budget"}


def test_the_opt_in_assets_follow_their_declarations(mixed: dg.Definitions) -> None:
    graph = mixed.get_repository_def().asset_graph
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert keys == {*BUILT_IN, *OPT_IN, "call_budget"}
    declarations = load_declarations()
    for name in OPT_IN:
        node = graph.get(dg.AssetKey(name))
        declared = declarations.assets[name]
        assert node.description == declared.description
        assert {k.to_user_string() for k in node.parent_keys} == set(declared.after)
        policy = node.freshness_policy
        assert policy is not None
        assert policy.fail_window.to_timedelta() == timedelta(hours=declared.freshness_hours)
        checks = {k.name for k in graph.asset_check_keys if k.asset_key == node.key}
        assert checks == {
            "row_count_matches_api_total",
            "no_duplicate_ids",
            "fresh",
            "no_new_fields",
            "routes_readable",
            "calls_as_planned",
        }
    # The tasks are listed per cost centre: upstream of them, the cost centres.
    assert declarations.assets["huoltokirjan_tehtavat"].after == ("kustannuspaikat",)
    budget = graph.get(dg.AssetKey("call_budget"))
    assert {k.to_user_string() for k in budget.parent_keys} == {*BUILT_IN, *OPT_IN}


def test_each_accounts_nightly_run_selects_what_it_syncs(mixed: dg.Definitions) -> None:
    repo = mixed.get_repository_def()
    schedule = repo.get_schedule_def("nightly_sync_schedule")
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2026, 3, 2, tzinfo=UTC), repository_def=repo
    )
    requests = {r.partition_key: r for r in schedule.evaluate_tick(context).run_requests or []}
    assert requests["acc-a"].asset_selection is None  # every asset: the whole job
    selected = {k.to_user_string() for k in requests["acc-b"].asset_selection or []}
    assert selected == {*BUILT_IN, "call_budget"}


def test_an_opt_in_asset_for_an_account_that_does_not_opt_in_fails_saying_so(
    mixed: dg.Definitions, warehouse_url: str
) -> None:
    resources = {
        "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
        "tampuuri": TampuuriResource(),
    }
    result = dg.materialize(
        [*mixed.assets, *mixed.asset_checks],
        selection=dg.AssetSelection.assets("vuokrasopimukset"),
        partition_key="acc-b",
        resources=resources,
        raise_on_error=False,
    )
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = str(failures[0].event_specific_data.error)
    assert "account 'acc-b' does not sync vuokrasopimukset: it is opt-in" in message
