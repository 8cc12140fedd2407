"""The route catalogue: everything assumed about the Tampuuri routes, from config/routes.yaml.

Section 7 of the API contract is partly [ASSUMED]; an operator corrects the catalogue
against the live Help pages without a code change. Loading is strict: an unknown key, a
list route without paging or a fan-out naming an unknown resource is a `ConfigError`
that names the file and the key, because a silently ignored typo would change what the
sync calls (and what it is billed for).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

from pipelines.settings import ConfigError, config_file, read_yaml
from pipelines.tampuuri import catalogue_schema
from pipelines.tampuuri.catalogue_overrides import apply_overrides

Paging = Literal["query", "body"]
METHODS = catalogue_schema.METHODS
_PARAMETER = catalogue_schema.PARAMETER


@dataclass(frozen=True)
class Route:
    """One API route.

    Attributes:
        method: HTTP method, upper case.
        path: Path relative to the API version root, e.g. "kohteet/{kohde_id}/selaa".
        paging: Where Offset/Limit go ("query" or "body"), None for unpaged routes.
        ids_field: For batch routes, the body key that carries the ids.
        max_ids: For batch routes, how many ids one call may carry.
    """

    method: str
    path: str
    paging: Paging | None = None
    ids_field: str | None = None
    max_ids: int | None = None

    @property
    def template(self) -> str:
        """The ledger and transaction-report key: the path, lower case (paths match
        case-insensitively in Tampuuri)."""
        return self.path.lower()

    @property
    def parameters(self) -> tuple[str, ...]:
        """The path parameter names in order, e.g. ("kohde_id",)."""
        return tuple(_PARAMETER.findall(self.template))

    def format(self, **params: object) -> str:
        """The concrete path with parameters filled in and URL-quoted.

        Raises:
            ValueError: a parameter is missing or unknown.
        """
        expected = set(self.parameters)
        if set(params) != expected:
            missing = sorted(expected - set(params))
            unknown = sorted(set(params) - expected)
            raise ValueError(
                f"{self.method} {self.template}: path parameters missing {missing}, "
                f"unknown {unknown}"
            )
        return _PARAMETER.sub(lambda m: quote(str(params[m.group(1)]), safe=""), self.template)


@dataclass(frozen=True)
class ResourceRoutes:
    """The routes and item facts of one resource."""

    name: str
    id_field: str
    list: Route | None = None
    detail: Route | None = None
    batch: Route | None = None
    fan_out: str | None = None
    changed_field: str | None = None
    change_since: str | None = None
    scope_filter: str | None = None
    nested: Mapping[str, str] = field(default_factory=dict)
    # The list comes in ascending id order and new rows get higher ids: rows added since
    # the warehouse's newest one can be read from the list's end (`tampuuri.tail`).
    ordered_by_id: bool = False


@dataclass(frozen=True)
class Catalogue:
    """All resources the product syncs, with the API-wide paging limit."""

    resources: dict[str, ResourceRoutes]
    max_page_size: int
    api_version_path: str

    def routes(self) -> list[Route]:
        """Every distinct route in the catalogue (budget planning, docs)."""
        seen: dict[tuple[str, str], Route] = {}
        for resource in self.resources.values():
            for route in (resource.list, resource.detail, resource.batch):
                if route is not None:
                    seen.setdefault((route.method, route.template), route)
        return list(seen.values())


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load and validate the route catalogue: the API-wide facts of `routes.yaml`, each
    resource's routes from its declaration (`catalogue_document`), and the corrections
    `tampuuri-sync doctor` measured on the live API (catalogue_overrides.yaml beside it).

    Args:
        path: The YAML file; default `config/routes.yaml`.

    Raises:
        ConfigError: naming the file and key that is wrong.
    """
    source = path or config_file("routes.yaml")
    return parse_catalogue(apply_overrides(catalogue_document(source), source), source=str(source))


def catalogue_document(source: Path) -> dict[str, Any]:
    """The catalogue as written, before any override: `source` (routes.yaml) with a
    `resources` mapping built from the declarations in the `resources/` folder beside it,
    else the config folder's (config/resources/, `pipelines.declarations`)."""
    from pipelines.declarations import RESOURCES_DIR, load_declarations

    document = read_yaml(source)
    if isinstance(document, dict) and "resources" in document:
        raise ConfigError(
            f"{source}: resources: each resource's routes are declared in"
            " config/resources/<name>.yaml now (docs/adding-a-resource.md); move them there"
        )
    beside = source.parent / RESOURCES_DIR
    declarations = load_declarations(beside if beside.is_dir() else None)
    return {**(document or {}), "resources": declarations.catalogue_resources()}


def parse_catalogue(raw: Any, *, source: str = "routes.yaml") -> Catalogue:
    """Validate an already parsed catalogue document (see `load_catalogue`)."""
    spec = catalogue_schema.validate(raw, source)
    return Catalogue(
        resources={name: _resource(name, body) for name, body in spec.resources.items()},
        max_page_size=spec.max_page_size,
        api_version_path=spec.api_version_path,
    )


def _resource(name: str, body: catalogue_schema.ResourceSpec) -> ResourceRoutes:
    return ResourceRoutes(
        name=name,
        id_field=body.id_field,
        list=_route(body.list),
        detail=_route(body.detail),
        batch=_route(body.batch),
        fan_out=body.fan_out,
        changed_field=body.changed_field,
        change_since=body.change_since,
        scope_filter=body.scope_filter,
        nested=dict(body.nested),
        ordered_by_id=body.ordered_by_id,
    )


def _route(body: catalogue_schema.RouteSpec | None) -> Route | None:
    if body is None:
        return None
    return Route(
        method=body.method,
        path=body.path,
        paging=cast(Paging | None, body.paging),
        ids_field=body.ids_field,
        max_ids=body.max_ids,
    )
