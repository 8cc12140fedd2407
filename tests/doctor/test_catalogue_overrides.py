"""The doctor's override file, applied when the catalogue loads.

Protects: a correction measured on the live API changes what the product does without a
hand edit of routes.yaml (page size, order, change-since, scope filter, batch size), and a
damaged or hostile file stops with an error naming the file and the entry.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipelines.budget.routes import load_resource_facts
from pipelines.settings import CONFIG_DIR, ConfigError
from pipelines.tampuuri.catalogue import load_catalogue
from pipelines.tampuuri.catalogue_overrides import overrides_path


@pytest.fixture
def routes_file(tmp_path: Path) -> Path:
    target = tmp_path / "routes.yaml"
    shutil.copy(CONFIG_DIR / "routes.yaml", target)
    return target


def _write(routes_file: Path, *entries: dict) -> None:
    document = {"account": "demo-a", "checked_at": "2026-12-03", "contradicted": list(entries)}
    overrides_path(routes_file).write_text(yaml.safe_dump(document), encoding="utf-8")


def test_without_a_file_the_catalogue_is_the_routes_file(routes_file):
    assert load_catalogue(routes_file) == load_catalogue(CONFIG_DIR / "routes.yaml")


def test_each_measured_correction_reaches_the_catalogue(routes_file):
    _write(
        routes_file,
        {"assumption": "limit_clamp", "key": "max_page_size", "value": 100, "evidence": "e"},
        {"assumption": "ascending_ids", "key": "resources.ilmoitukset.ordered_by_id",
         "value": False, "evidence": "e"},
        {"assumption": "change_since", "key": "resources.kustannuspaikat.change_since",
         "value": None, "evidence": "e"},
        {"assumption": "batch_max_ids", "key": "resources.osapuolet.batch.max_ids",
         "value": 100, "evidence": "e"},
        {"assumption": "deleted_404", "resource": "kohteet", "evidence": "e", "action": "a"},
    )  # fmt: skip
    catalogue = load_catalogue(routes_file)
    assert catalogue.max_page_size == 100
    assert catalogue.resources["ilmoitukset"].ordered_by_id is False
    assert catalogue.resources["kustannuspaikat"].change_since is None
    assert catalogue.resources["osapuolet"].batch.max_ids == 100
    # The budget plan reads the same corrections (page size, batch size, change-since).
    facts = load_resource_facts(routes_file)
    assert facts["kustannuspaikat"].page_size == 100
    assert facts["kustannuspaikat"].change_since is None
    assert facts["osapuolet"].batch_size == 100


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"assumption": "x", "key": "api_version_path", "value": "/evil/"}, "may not be"),
        ({"assumption": "x", "key": "resources.ilmoitukset.scope_filter", "value": None},
         "may not be"),
        ({"assumption": "x", "key": "resources.nope.ordered_by_id", "value": False},
         "no resources.nope"),
        ({"assumption": "x", "key": "max_page_size", "value": 0}, "max_page_size"),
    ],
)  # fmt: skip
def test_a_bad_entry_names_the_file_and_the_key(routes_file, entry, problem):
    _write(routes_file, entry)
    with pytest.raises(ConfigError, match=problem) as error:
        load_catalogue(routes_file)
    assert "routes.yaml" in str(error.value) or "catalogue_overrides.yaml" in str(error.value)
