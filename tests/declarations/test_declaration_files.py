"""The resource declarations (config/resources/*.yaml): the shipped ones load and give the
built-ins exactly their tables and routes, and every malformed declaration is a ConfigError
naming the file and the key path (an ignored typo would change what is synced and billed)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.declarations import load_declarations
from pipelines.settings import CONFIG_DIR, ConfigError
from pipelines.tampuuri.catalogue import load_catalogue

BUILT_IN_ASSETS = ("kustannuspaikat", "kohteet", "osapuolet", "ilmoitukset")
OPT_IN_ASSETS = ("vuokrasopimukset", "asuntotarkastukset", "huoltokirjan_tehtavat")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "resources"
    shutil.copytree(CONFIG_DIR / "resources", folder)
    shutil.copy(CONFIG_DIR / "routes.yaml", tmp_path / "routes.yaml")
    return folder


def _edit(folder: Path, file: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = folder / file
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return apply


_DELETE = object()


def test_the_shipped_declarations_give_seven_assets_and_eight_tables() -> None:
    declarations = load_declarations()
    assert tuple(declarations.assets) == BUILT_IN_ASSETS + OPT_IN_ASSETS
    assert declarations.synced_assets() == BUILT_IN_ASSETS
    assert declarations.synced_assets(("asuntotarkastukset",)) == (
        *BUILT_IN_ASSETS,
        "asuntotarkastukset",
    )
    assert declarations.assets["osapuolet"].tables == ("osapuoli_yhteydet", "osapuolet")
    assert declarations.scanned("osapuolet") == "osapuoli_yhteydet"
    assert declarations.assets["asuntotarkastukset"].tables == (
        "asuntotarkastukset",
        "asuntotarkastukset_huomiot",
    )
    assert declarations.fan_out_parents() == {"kustannuspaikat"}
    assert declarations.assets["kohteet"].after == ("kustannuspaikat",)
    assert len(declarations.tables) == 8
    inspections = declarations.tables["asuntotarkastukset"]
    (remarks,) = inspections.children
    assert (remarks.name, remarks.field) == ("asuntotarkastukset_huomiot", "Huomiot")
    assert [c.name for c in remarks.columns] == ["kohta", "kuvaus", "kiireellisyys"]
    tasks = declarations.tables["huoltokirjan_tehtavat"].column("kustannuspaikka_id")
    assert (tasks.source, tasks.field) == ("fan_out", "")
    events = declarations.events
    assert (events["SopimusUusi"].resource, events["SopimusUusi"].rule.action) == (
        "vuokrasopimukset",
        "refresh",
    )
    assert events["OsapuoliKohdeLiitosUusi"].rule.action == "refresh_scope"


def test_the_built_in_tables_are_what_migration_0001_created() -> None:
    """The declared typed columns of the five built-in tables, in table order, with their
    types: the same as the hand-written TableSpecs and migration 0001 had."""
    tables = load_declarations().tables
    assert [(c.name, c.cast) for c in tables["kohteet"].columns] == [
        ("parent_id", "bigint"),
        ("kustannuspaikka_id", "bigint"),
        ("metaname", "text"),
        ("nimi", "text"),
        ("tunnus", "text"),
        ("huoneistoala", "numeric"),
        ("huoneistotyyppi_id", "integer"),
        ("lisatiedot", "text"),
        ("muokattu", "timestamptz"),
    ]
    assert tables["kohteet"].column("lisatiedot").field == "Lisätiedot"
    assert tables["kohteet"].changed_column == "muokattu"
    assert tables["osapuolet"].changed_column is None
    assert "TypeId" in tables["kohteet"].known_fields
    assert {"Osapuoli", "Id", "KohdeId"} <= tables["osapuoli_yhteydet"].known_fields
    assert tables["ilmoitukset"].indexes == (("kustannuspaikka_id",),)


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "kohteet.yaml",
            _set("kohteet.routes.list.paging", "header"),
            "kohteet.yaml: kohteet.routes.list.paging: must be query or body",
        ),
        (
            "ilmoitukset.yaml",
            _set("ilmoitukset.routes.list.paging", _DELETE),
            "ilmoitukset.yaml: ilmoitukset.routes.list.paging: must be query or body",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.routes.fan_out", "rakennukset"),
            "kohteet.yaml: kohteet.routes.fan_out: 'rakennukset' is no declared listed resource",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.routes.list.method", "GET"),
            "kohteet.routes.list.paging: body paging needs a method with a body, not GET",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.routes.list.method", "FETCH"),
            "kohteet.routes.list.method: must be one of GET, POST",
        ),
        ("kohteet.yaml", _set("kohteet.routes.list.verb", "GET"), "kohteet.routes.list.verb"),
        ("kohteet.yaml", _set("kohteet.chnage_since", "X"), "kohteet.chnage_since: unknown key"),
        ("kohteet.yaml", _set("kohteet.key", 7), "kohteet.key: must be a string, got 7"),
        (
            "osapuolet.yaml",
            _set("osapuoli_yhteydet.routes.ordered_by_id", "yes"),
            "osapuoli_yhteydet.routes.ordered_by_id: must be true or false",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.routes.ordered_by_id", True),
            "kohteet.routes.ordered_by_id: needs an account-wide list route",
        ),
        (
            "osapuolet.yaml",
            _set("osapuolet.routes.batch.ids_field", _DELETE),
            "osapuolet.routes.batch.ids_field: is required on a batch route",
        ),
        (
            "osapuolet.yaml",
            _set("osapuolet.routes.batch.max_ids", 0),
            "osapuolet.routes.batch.max_ids: must be a positive integer",
        ),
        (
            "ilmoitukset.yaml",
            _set("ilmoitukset.routes.detail.path", "ilmoitukset"),
            "ilmoitukset.routes.detail.path: must have exactly one path parameter",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.routes.fan_out", _DELETE),
            "kohteet.routes.list.path: no fan_out: no path parameter allowed",
        ),
        (
            "osapuolet.yaml",
            _set("osapuoli_yhteydet.nested", {"osapuolet": "Osapuoli", "henkilot": "X"}),
            "osapuoli_yhteydet.nested.henkilot: no such declared resource",
        ),
        (
            "ilmoitukset.yaml",
            _set("ilmoitukset.routes.detail.paging", "query"),
            "ilmoitukset.routes.detail.paging: not allowed on a detail route",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.columns.1.type", "money"),
            "kohteet.columns[1].type: 'money' is not one of text, bigint",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.columns.1.name", "Kustannuspaikka"),
            "kohteet.columns[1].name: must be a lower-case SQL identifier",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.columns.1.name", "parent_id"),
            "kohteet.columns: 'parent_id' is declared twice",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.columns.1.name", "deleted_at"),
            "kohteet.columns: 'deleted_at' is a column every table has already",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.changed_field", "Muutettu"),
            "kohteet.changed_field: no typed column reads 'Muutettu'",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.after", ["rakennukset"]),
            "kohteet.yaml: kohteet.after[0]: 'rakennukset' is no other declared asset",
        ),
        (
            "ilmoitukset.yaml",
            _set("ilmoitukset.webhooks.OsapuoliUusi", {"action": "refresh"}),
            "webhooks.OsapuoliUusi: event type already bound to osapuolet",
        ),
        (
            "kohteet.yaml",
            _set("kohteet.webhooks.KohderekisteriTietoUusi.action", "fetch"),
            "kohteet.webhooks.KohderekisteriTietoUusi.action: 'fetch' is not one of refresh",
        ),
        (
            "osapuolet.yaml",
            _set("osapuolet.bi.columns", ["nimi", "turvakielto", "sahkoposti"]),
            "osapuolet.bi.mask.columns: each masked column must be in bi.columns",
        ),
        (
            "vuokrasopimukset.yaml",
            _set("vuokrasopimukset.cost_centre.through", "ilmoitukset_x"),
            "vuokrasopimukset.cost_centre.through: 'ilmoitukset_x' is no declared resource",
        ),
        (
            "vuokrasopimukset.yaml",
            _set("vuokrasopimukset.opt_in", "yes"),
            "vuokrasopimukset.opt_in: must be true or false",
        ),
        (
            "huoltokirjan_tehtavat.yaml",
            _set("huoltokirjan_tehtavat.columns.0.path", "KustannuspaikkaId"),
            "columns[0].path: give a path (the item's field) or from: fan_out, not both",
        ),
        (
            "asuntotarkastukset.yaml",
            _set("asuntotarkastukset.children.0.table", "kohteet"),
            "asuntotarkastukset.children: table 'kohteet' is taken",
        ),
    ],
)
def test_a_bad_declaration_names_the_file_and_key_path(
    tmp_path: Path, file: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    folder = _copy(tmp_path)
    _edit(folder, file, change)
    with pytest.raises(ConfigError) as caught:
        load_declarations(folder)
    assert message in str(caught.value)
    assert str(caught.value).startswith(file), caught.value


def test_a_resource_declared_in_two_files_names_both(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    shutil.copy(folder / "kohteet.yaml", folder / "kohteet_again.yaml")
    with pytest.raises(
        ConfigError, match=r"kohteet_again.yaml: kohteet: also declared in kohteet.yaml"
    ):
        load_declarations(folder)


def test_an_empty_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no resource declarations"):
        load_declarations(tmp_path)


def test_declarations_without_optional_features_still_load(tmp_path: Path) -> None:
    """An operator may remove change-since filters, scope filters and detail routes."""
    folder = _copy(tmp_path)
    for path in folder.glob("*.yaml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for declaration in document.values():
            for key in ("change_since", "scope_filter"):
                declaration["routes"].pop(key, None)
            declaration["routes"]["ordered_by_id"] = False
        path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    _edit(folder, "ilmoitukset.yaml", _set("ilmoitukset.routes.detail", _DELETE))
    catalogue = load_catalogue(tmp_path / "routes.yaml")
    assert catalogue.resources["ilmoitukset"].change_since is None
    assert catalogue.resources["ilmoitukset"].detail is None


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    assert load_declarations(folder).resources["kohteet"].spec.priority == 20
    _edit(folder, "kohteet.yaml", _set("kohteet.priority", 21))
    assert load_declarations(folder).resources["kohteet"].spec.priority == 21
