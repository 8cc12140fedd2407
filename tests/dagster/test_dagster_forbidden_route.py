"""A route refused as a whole in Dagster: materialising the assets of an account whose API
role lacks `Hae` on `ilmoitukset/selaa` records `ilmoitukset` as `forbidden` and fails its
`routes_readable` check with the sentence naming the route and the right; the other assets
and their checks are unaffected. With `ilmoitukset` under the account's `not_licensed`, the
same refusal passes the checks with that explanation."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml

from pipelines import definitions
from pipelines.resources import TampuuriResource, WarehouseResource
from pipelines.simulator import Simulator, SimulatorConfig
from pipelines.simulator.config import default_role
from tests.dagster.sim_accounts import ACCOUNTS, write_accounts

BASE_URL = "http://sim/v10/api/"
SYNC_ASSETS = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")
REFUSED = (
    "account 'demo-a': the API user's role lacks the Hae right (read) on GET ilmoitukset/selaa"
)


@pytest.fixture
def sim() -> Simulator:
    role = default_role()
    role["ilmoitukset/selaa"] = frozenset()
    return Simulator(SimulatorConfig(seed=3, scale=300, accounts=ACCOUNTS, roles={"demo-a": role}))


@pytest.fixture
def resources(sim: Simulator, warehouse_url: str) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
        "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=sim.app)),
    }


def _defs(sim, tmp_path: Path, monkeypatch, not_licensed: tuple[str, ...] = ()) -> dg.Definitions:
    path = write_accounts(sim, BASE_URL, tmp_path, monkeypatch)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["accounts"][0]["not_licensed"] = list(not_licensed)  # demo-a
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return definitions.defs()


def _materialise(defs: dg.Definitions, resources) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.assets(*SYNC_ASSETS),  # with their checks
        partition_key="demo-a",
        resources=resources,
    )


def _evaluations(
    result: dg.ExecuteInProcessResult,
) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }


def _status(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        e.asset_key.to_user_string(): e.materialization.metadata["status"].value
        for e in result.get_asset_materialization_events()
        if "status" in e.materialization.metadata
    }


def test_a_refused_route_fails_the_assets_check(sim, resources, tmp_path, monkeypatch) -> None:
    result = _materialise(_defs(sim, tmp_path, monkeypatch), resources)

    assert _status(result) == {
        "kustannuspaikat": "success",
        "kohteet": "success",
        "osapuolet": "success",
        "ilmoitukset": "forbidden",
    }
    evaluations = _evaluations(result)
    assert len(evaluations) == 24  # six per asset
    readable = evaluations[("ilmoitukset", "routes_readable")]
    assert not readable.passed
    assert readable.severity == dg.AssetCheckSeverity.ERROR
    assert readable.description.startswith(REFUSED)
    assert readable.description.count(". ") == 0 and readable.description.endswith(".")
    failed = {k for k, e in evaluations.items() if not e.passed}
    # Never read, the notices have no full scan and no success either.
    assert failed == {
        ("ilmoitukset", "routes_readable"),
        ("ilmoitukset", "row_count_matches_api_total"),
        ("ilmoitukset", "fresh"),
    }
    materialised = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert materialised["ilmoitukset"]["api_calls"].value == 1
    assert materialised["ilmoitukset"]["error"].value.startswith(REFUSED)


def test_a_route_not_licensed_passes_the_checks_with_the_explanation(
    sim, resources, tmp_path, monkeypatch
) -> None:
    defs = _defs(sim, tmp_path, monkeypatch, not_licensed=("ilmoitukset",))
    result = _materialise(defs, resources)

    assert _status(result)["ilmoitukset"] == "not_licensed"
    evaluations = _evaluations(result)
    assert {k for k, e in evaluations.items() if not e.passed} == set()
    explained = (
        "account 'demo-a': ilmoitukset is not licensed (not_licensed in the account's config),"
        " and GET ilmoitukset/selaa answered 403 as expected."
    )
    for check in ("routes_readable", "row_count_matches_api_total", "fresh"):
        assert evaluations[("ilmoitukset", check)].description == explained


def test_objects_without_rights_are_logged_as_sentences(tmp_path, warehouse_url, monkeypatch):
    sim = Simulator(SimulatorConfig(seed=8, scale=900, accounts=ACCOUNTS, forbidden_share=0.34))
    forbidden = sim.forbidden_cost_centres("demo-a")
    resources = {
        "warehouse": WarehouseResource(database_url=warehouse_url, pool_size=2),
        "tampuuri": TampuuriResource(transport=httpx.ASGITransport(app=sim.app)),
    }
    instance = dg.DagsterInstance.ephemeral()
    defs = _defs(sim, tmp_path, monkeypatch)
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.assets("kustannuspaikat", "kohteet"),
        partition_key="demo-a",
        resources=resources,
        instance=instance,
    )
    assert _status(result)["kohteet"] == "success"
    assert _evaluations(result)[("kohteet", "routes_readable")].passed
    messages = [e.user_message for e in instance.all_logs(result.run_id)]
    sentences = [m for m in messages if "no object right (kohdeoikeus)" in m]
    assert len(sentences) == len(forbidden)
    for sentence in sentences:
        assert "{" not in sentence and sentence.startswith("account 'demo-a': the API user")
