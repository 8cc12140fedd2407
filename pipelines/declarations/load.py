"""Reading config/resources/*.yaml: each file validated, then the references between them.

A file holds one or more resources (`name: {declaration}`); a name declared in two files,
a fan-out over an undeclared resource, nested rows of an unknown table, an `after` naming
no asset or a webhook event type bound twice is a `ConfigError` naming the file and the
key path. The result is cached per folder until one of its files changes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from pipelines.declarations.model import Declarations, Declared
from pipelines.declarations.schema import ResourcesFile
from pipelines.settings import ConfigError, config_dir, read_yaml, validate_document

RESOURCES_DIR = "resources"


def resources_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The declarations folder: `resources/` in the config folder ($TAMPUURI_CONFIG_DIR)."""
    return config_dir(environ) / RESOURCES_DIR


def load_declarations(directory: Path | None = None) -> Declarations:
    """The validated declarations of `directory` (default `resources_dir()`).

    Raises:
        ConfigError: naming the file and key path of the first problem found.
    """
    folder = (directory or resources_dir()).resolve()
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        raise ConfigError(
            f"{folder}: no resource declarations (*.yaml) found; the product needs at least"
            " the built-in ones shipped in config/resources/"
        )
    signature = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _load(folder, signature)


@functools.lru_cache(maxsize=16)
def _load(folder: Path, signature: tuple[tuple[str, int, int], ...]) -> Declarations:
    declared: dict[str, Declared] = {}
    for name, _mtime, _size in signature:
        path = folder / name
        document = validate_document(
            ResourcesFile,
            {"resources": read_yaml(path)},
            path.name,
            key=_without_wrapper,
        )
        for resource, spec in document.resources.items():
            if resource in declared:
                other = declared[resource].source.name
                raise ConfigError(f"{path.name}: {resource}: also declared in {other}")
            declared[resource] = Declared(name=resource, spec=spec, source=path)
    ordered = dict(sorted(declared.items(), key=lambda item: (item[1].spec.priority, item[0])))
    declarations = Declarations(resources=ordered, directory=folder)
    _check_references(declarations)
    return declarations


def _without_wrapper(loc: tuple[int | str, ...]) -> str:
    from pipelines.settings.errors import key_path

    return key_path(loc[1:]) if loc[:1] == ("resources",) else key_path(loc)


def _check_references(declarations: Declarations) -> None:
    resources = declarations.resources
    tables = set(resources)
    for name, declared in resources.items():
        spec, where = declared.spec, f"{declared.source.name}: {name}"
        fan_out = spec.routes.fan_out
        if fan_out is not None and (fan_out not in resources or not resources[fan_out].listed):
            raise ConfigError(f"{where}.routes.fan_out: {fan_out!r} is no declared listed resource")
        for nested in spec.nested:
            if nested not in resources:
                raise ConfigError(f"{where}.nested.{nested}: no such declared resource")
        through = spec.cost_centre.through if spec.cost_centre else None
        if through is not None and (
            through not in resources or not resources[through].spec.cost_centre
        ):
            raise ConfigError(
                f"{where}.cost_centre.through: {through!r} is no declared resource with a"
                " cost_centre of its own"
            )
        for child in spec.children:
            if child.table in tables or child.table.endswith("_history"):
                raise ConfigError(f"{where}.children: table {child.table!r} is taken")
            tables.add(child.table)
        if not declared.listed and not any(name in d.spec.nested for d in resources.values()):
            raise ConfigError(
                f"{where}.routes: needs a list route, or to arrive nested in another"
                " resource's items (its `nested:`)"
            )
    _check_assets(declarations)
    _check_events(declarations)


def _check_assets(declarations: Declarations) -> None:
    grouped: dict[str, list[Declared]] = {}
    for declared in declarations.resources.values():
        grouped.setdefault(declared.asset, []).append(declared)
    for asset, members in grouped.items():
        listed = [m.name for m in members if m.listed]
        if len(listed) != 1:
            files = sorted({m.source.name for m in members})
            raise ConfigError(
                f"{', '.join(files)}: asset {asset!r}: needs exactly one resource with a list"
                f" route, has {listed or 'none'}"
            )
    for declared in declarations.resources.values():
        for i, after in enumerate(declared.spec.after):
            if after not in grouped or after == declared.asset:
                raise ConfigError(
                    f"{declared.source.name}: {declared.name}.after[{i}]: {after!r} is no"
                    " other declared asset"
                )


def _check_events(declarations: Declarations) -> None:
    bound: dict[str, str] = {}
    for declared in declarations.resources.values():
        for event, rule in declared.spec.webhooks.items():
            where = f"{declared.source.name}: {declared.name}.webhooks.{event}"
            folded = event.casefold()
            if folded in bound:
                raise ConfigError(f"{where}: event type already bound to {bound[folded]}")
            bound[folded] = declared.name
            routes = declared.spec.routes
            if rule.action == "delete" and routes.detail is None and routes.batch is None:
                raise ConfigError(f"{where}.action: delete needs a detail or batch route")
