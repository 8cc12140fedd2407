"""The route catalogue contract: config/routes.yaml (the API-wide facts) and the resource
declarations (config/resources/, each resource's routes) load into Route/ResourceRoutes/
Catalogue, route templates match the ledger keys, and every malformed catalogue is a
ConfigError that names the file and the key (an ignored typo would silently change what the
sync calls). The declarations' own errors: tests/declarations/."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.settings import CONFIG_DIR, ConfigError
from pipelines.tampuuri.catalogue import Route, load_catalogue

TEMPLATES = {
    ("GET", "kustannuspaikat/selaa"),
    ("GET", "kohteet/{kohde_id}"),
    ("POST", "kohteet/{kohde_id}/selaa"),
    ("GET", "osapuolet/yhteydet/selaa"),
    ("POST", "osapuolitiedot/osapuolet/hae"),
    ("GET", "ilmoitukset/selaa"),
    ("GET", "ilmoitukset/{id}"),
    # The three opt-in resources (tampuuri-api.md section 9).
    ("GET", "vuokrasopimukset/selaa"),
    ("GET", "vuokrasopimukset/{id}"),
    ("GET", "asuntotarkastukset/selaa"),
    ("GET", "asuntotarkastukset/{id}"),
    ("POST", "huoltokirja/{kohde_id}/tehtavat/selaa"),
}


def test_shipped_catalogue_loads_with_the_documented_routes() -> None:
    catalogue = load_catalogue()
    assert set(catalogue.resources) == {
        "kustannuspaikat",
        "kohteet",
        "osapuoli_yhteydet",
        "osapuolet",
        "ilmoitukset",
        "vuokrasopimukset",
        "asuntotarkastukset",
        "huoltokirjan_tehtavat",
    }
    assert catalogue.max_page_size == 250
    assert catalogue.api_version_path == "/v10/api/"
    assert {(r.method, r.template) for r in catalogue.routes()} == TEMPLATES
    kohteet = catalogue.resources["kohteet"]
    assert kohteet.list == Route("POST", "kohteet/{kohde_id}/selaa", paging="body")
    assert kohteet.fan_out == "kustannuspaikat"
    assert kohteet.change_since is None
    assert catalogue.resources["osapuoli_yhteydet"].nested == {"osapuolet": "Osapuoli"}
    batch = catalogue.resources["osapuolet"].batch
    assert batch is not None and (batch.ids_field, batch.max_ids) == ("OsapuoliIdt", 250)


def test_route_template_parameters_and_format() -> None:
    route = Route("POST", "Kohteet/{kohde_id}/Selaa", paging="body")
    assert route.template == "kohteet/{kohde_id}/selaa"
    assert route.parameters == ("kohde_id",)
    assert route.format(kohde_id=124821) == "kohteet/124821/selaa"
    # Values are quoted: a value can never add a path segment.
    assert route.format(kohde_id="1/2") == "kohteet/1%2F2/selaa"
    with pytest.raises(ValueError, match=r"missing \['kohde_id'\]"):
        route.format()
    with pytest.raises(ValueError, match=r"unknown \['id'\]"):
        route.format(kohde_id=1, id=2)


def _shipped() -> dict[str, Any]:
    return yaml.safe_load((CONFIG_DIR / "routes.yaml").read_text(encoding="utf-8"))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value

    return apply


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("max_page_size", 0), "max_page_size: must be a positive integer"),
        (_set("pagesize", 100), "pagesize: unknown key"),
        (_set("api_version_path", "v10/api/"), "api_version_path: must be a path starting with /"),
        (
            _set("resources", {"kohteet": {"id_field": "Id"}}),
            "resources: each resource's routes are declared in config/resources/<name>.yaml",
        ),
    ],
)
def test_bad_catalogue_names_the_key(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    doc = copy.deepcopy(_shipped())
    change(doc)
    path = tmp_path / "routes.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_catalogue(tmp_path / "nope.yaml")
