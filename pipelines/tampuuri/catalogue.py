"""The route catalogue: everything assumed about the Tampuuri routes, from config/routes.yaml.

Section 7 of the API contract is partly [ASSUMED]; an operator corrects the catalogue
against the live Help pages without a code change. Loading is strict: an unknown key, a
list route without paging or a fan-out naming an unknown resource is a `ConfigError`
that names the file and the key, because a silently ignored typo would change what the
sync calls (and what it is billed for).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

from pipelines.settings import ConfigError, config_file, read_yaml
from pipelines.tampuuri.catalogue_overrides import apply_overrides

Paging = Literal["query", "body"]
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAMETER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_ROUTE_KEYS = frozenset({"method", "path", "paging", "ids_field", "max_ids"})
_RESOURCE_KEYS = frozenset(
    {
        "list",
        "fan_out",
        "id_field",
        "changed_field",
        "change_since",
        "detail",
        "batch",
        "nested",
        "scope_filter",
        "ordered_by_id",
    }
)


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
    """Load and validate the route catalogue.

    Args:
        path: The YAML file; default `config/routes.yaml`.

    Raises:
        ConfigError: naming the file and key that is wrong.
    """
    source = path or config_file("routes.yaml")
    # Corrections `tampuuri-sync doctor` measured on the live API, beside the file.
    return parse_catalogue(apply_overrides(read_yaml(source), source), source=str(source))


def parse_catalogue(raw: Any, *, source: str = "routes.yaml") -> Catalogue:
    """Validate an already parsed catalogue document (see `load_catalogue`)."""

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{source}: {key}: {problem}")

    if not isinstance(raw, dict):
        raise fail("(top level)", "must be a mapping")
    unknown = sorted(set(raw) - {"api_version_path", "max_page_size", "resources"})
    if unknown:
        raise fail(str(unknown[0]), "unknown key")
    max_page_size = raw.get("max_page_size", 250)
    if not isinstance(max_page_size, int) or isinstance(max_page_size, bool) or max_page_size < 1:
        raise fail("max_page_size", "must be a positive integer")
    version = raw.get("api_version_path", "/v10/api/")
    if not isinstance(version, str) or not version.startswith("/"):
        raise fail("api_version_path", "must be a path starting with /")
    resources_raw = raw.get("resources")
    if not isinstance(resources_raw, dict) or not resources_raw:
        raise fail("resources", "must be a non-empty mapping")

    resources = {
        str(name): _resource(str(name), body, fail) for name, body in resources_raw.items()
    }
    for name, resource in resources.items():
        if resource.fan_out is not None and resource.fan_out not in resources:
            raise fail(f"resources.{name}.fan_out", f"unknown resource {resource.fan_out!r}")
        for table in resource.nested:
            if table not in resources:
                raise fail(f"resources.{name}.nested.{table}", "unknown resource")
    return Catalogue(
        resources=resources,
        max_page_size=max_page_size,
        api_version_path=version if version.endswith("/") else version + "/",
    )


def _resource(name: str, body: Any, fail: Any) -> ResourceRoutes:
    key = f"resources.{name}"
    if not isinstance(body, dict):
        raise fail(key, "must be a mapping")
    unknown = sorted(set(body) - _RESOURCE_KEYS)
    if unknown:
        raise fail(f"{key}.{unknown[0]}", "unknown key")
    id_field = _text(body, "id_field", key, fail, required=True)
    list_route = _route(body.get("list"), f"{key}.list", fail, kind="list")
    detail = _route(body.get("detail"), f"{key}.detail", fail, kind="detail")
    batch = _route(body.get("batch"), f"{key}.batch", fail, kind="batch")
    if list_route is None and detail is None and batch is None:
        raise fail(key, "needs at least one of list, detail, batch")
    fan_out = _text(body, "fan_out", key, fail)
    if list_route is not None:
        # A fan-out list is called once per row of another resource: one path parameter
        # carries that row's id. An account-wide list has none to fill.
        wanted = 1 if fan_out else 0
        if len(list_route.parameters) != wanted:
            problem = "a fan_out list needs exactly one" if fan_out else "no fan_out: no"
            raise fail(f"{key}.list.path", f"{problem} path parameter allowed")
    elif fan_out is not None:
        raise fail(f"{key}.fan_out", "needs a list route")
    if detail is not None and len(detail.parameters) != 1:
        raise fail(f"{key}.detail.path", "must have exactly one path parameter (the id)")
    nested = body.get("nested") or {}
    if not isinstance(nested, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in nested.items()
    ):
        raise fail(f"{key}.nested", "must map resource names to item field names")
    change_since = _text(body, "change_since", key, fail)
    changed_field = _text(body, "changed_field", key, fail)
    if change_since is not None and list_route is None:
        raise fail(f"{key}.change_since", "needs a list route")
    ordered_by_id = body.get("ordered_by_id", False)
    if not isinstance(ordered_by_id, bool):
        raise fail(f"{key}.ordered_by_id", "must be true or false")
    if ordered_by_id and (list_route is None or fan_out is not None):
        raise fail(f"{key}.ordered_by_id", "needs an account-wide list route")
    return ResourceRoutes(
        name=name,
        id_field=cast(str, id_field),
        list=list_route,
        detail=detail,
        batch=batch,
        fan_out=fan_out,
        changed_field=changed_field,
        change_since=change_since,
        scope_filter=_text(body, "scope_filter", key, fail),
        nested=dict(nested),
        ordered_by_id=ordered_by_id,
    )


def _text(
    body: dict[str, Any], name: str, key: str, fail: Any, *, required: bool = False
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise fail(f"{key}.{name}", "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(f"{key}.{name}", "must be a non-empty string")
    return value


def _route(body: Any, key: str, fail: Any, *, kind: str) -> Route | None:
    if body is None:
        return None
    if not isinstance(body, dict):
        raise fail(key, "must be a mapping with method and path")
    unknown = sorted(set(body) - _ROUTE_KEYS)
    if unknown:
        raise fail(f"{key}.{unknown[0]}", "unknown key")
    method = body.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise fail(f"{key}.method", f"must be one of {', '.join(METHODS)}")
    method = method.upper()
    path = body.get("path")
    if not isinstance(path, str) or not path.strip("/ "):
        raise fail(f"{key}.path", "must be a non-empty path")
    path = path.strip().strip("/")
    leftover = _PARAMETER.sub("", path.lower())
    if "{" in leftover or "}" in leftover:
        raise fail(f"{key}.path", "path parameters must look like {name} (letters, _, digits)")
    paging = body.get("paging")
    if kind == "list":
        if paging not in ("query", "body"):
            raise fail(f"{key}.paging", "must be query or body")
        if paging == "body" and method in ("GET", "DELETE"):
            # No body on GET and DELETE [SEED].
            raise fail(f"{key}.paging", f"body paging needs a method with a body, not {method}")
    elif paging is not None:
        raise fail(f"{key}.paging", f"not allowed on a {kind} route")
    ids_field = body.get("ids_field")
    max_ids = body.get("max_ids")
    if kind == "batch":
        if not isinstance(ids_field, str) or not ids_field:
            raise fail(f"{key}.ids_field", "is required on a batch route")
        if method in ("GET", "DELETE"):
            raise fail(f"{key}.method", "a batch route sends ids in a body: not GET or DELETE")
        if max_ids is not None and (
            not isinstance(max_ids, int) or isinstance(max_ids, bool) or max_ids < 1
        ):
            raise fail(f"{key}.max_ids", "must be a positive integer")
    elif ids_field is not None or max_ids is not None:
        bad = "ids_field" if ids_field is not None else "max_ids"
        raise fail(f"{key}.{bad}", f"only allowed on a batch route, not a {kind} route")
    return Route(
        method=method,
        path=path,
        paging=cast(Paging | None, paging),
        ids_field=ids_field,
        max_ids=max_ids,
    )
