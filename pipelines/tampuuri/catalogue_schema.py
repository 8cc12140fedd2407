"""The typed schema of config/routes.yaml, validated as strictly as every other setting.

An unknown key, a wrong type, a list route without paging, or a fan-out naming an
unknown resource is an error naming the key path (`pipelines.settings.errors`): a
silently ignored typo would change what the sync calls, and what it is billed for.
`catalogue.py` turns the validated document into its route objects.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from pipelines.settings.values import StrictBool, StrictInt, StrictStr

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PARAMETER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_MODEL = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError("must be a positive integer")
    return value


def _method(value: str) -> str:
    if value.upper() not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)}")
    return value.upper()


def _path(value: str) -> str:
    if not value.strip("/ "):
        raise ValueError("must be a non-empty path")
    path = value.strip().strip("/")
    leftover = PARAMETER.sub("", path.lower())
    if "{" in leftover or "}" in leftover:
        raise ValueError("path parameters must look like {name} (letters, _, digits)")
    return path


Text = Annotated[StrictStr, AfterValidator(_non_empty)]
Positive = Annotated[StrictInt, AfterValidator(_positive)]


def parameters(path: str) -> list[str]:
    """The path parameter names of a route path, in order."""
    return PARAMETER.findall(path.lower())


class RouteSpec(BaseModel):
    """One route as written; which keys it may have depends on its kind (`_check_route`)."""

    model_config = _MODEL

    method: Annotated[StrictStr, AfterValidator(_method)]
    path: Annotated[StrictStr, AfterValidator(_path)]
    paging: StrictStr | None = None
    ids_field: StrictStr | None = None
    max_ids: Positive | None = None


def _check_route(route: RouteSpec, kind: str) -> None:
    """Kind rules: a list is paged, a batch carries ids in a body, the others neither."""
    if kind == "list":
        if route.paging not in ("query", "body"):
            raise ValueError("list.paging: must be query or body")
        if route.paging == "body" and route.method in ("GET", "DELETE"):
            # No body on GET and DELETE [SEED].
            raise ValueError(
                f"list.paging: body paging needs a method with a body, not {route.method}"
            )
    elif route.paging is not None:
        raise ValueError(f"{kind}.paging: not allowed on a {kind} route")
    if kind == "batch":
        if not route.ids_field:
            raise ValueError("batch.ids_field: is required on a batch route")
        if route.method in ("GET", "DELETE"):
            raise ValueError("batch.method: a batch route sends ids in a body: not GET or DELETE")
    elif route.ids_field is not None or route.max_ids is not None:
        bad = "ids_field" if route.ids_field is not None else "max_ids"
        raise ValueError(f"{kind}.{bad}: only allowed on a batch route, not a {kind} route")


class ResourceSpec(BaseModel):
    """One resource as written in routes.yaml."""

    model_config = _MODEL

    id_field: Text
    list: RouteSpec | None = None
    detail: RouteSpec | None = None
    batch: RouteSpec | None = None
    fan_out: Text | None = None
    changed_field: Text | None = None
    change_since: Text | None = None
    scope_filter: Text | None = None
    nested: dict[StrictStr, Text] = Field(default_factory=dict)
    ordered_by_id: StrictBool = False

    @model_validator(mode="after")
    def _routes_fit(self) -> ResourceSpec:
        for kind in ("list", "detail", "batch"):
            route = getattr(self, kind)
            if route is not None:
                _check_route(route, kind)
        if self.list is None and self.detail is None and self.batch is None:
            raise ValueError("needs at least one of list, detail, batch")
        if self.list is not None:
            # A fan-out list is called once per row of another resource: one path parameter
            # carries that row's id. An account-wide list has none to fill.
            wanted = 1 if self.fan_out else 0
            if len(parameters(self.list.path)) != wanted:
                problem = "a fan_out list needs exactly one" if self.fan_out else "no fan_out: no"
                raise ValueError(f"list.path: {problem} path parameter allowed")
        elif self.fan_out is not None:
            raise ValueError("fan_out: needs a list route")
        if self.detail is not None and len(parameters(self.detail.path)) != 1:
            raise ValueError("detail.path: must have exactly one path parameter (the id)")
        if self.change_since is not None and self.list is None:
            raise ValueError("change_since: needs a list route")
        if self.ordered_by_id and (self.list is None or self.fan_out is not None):
            raise ValueError("ordered_by_id: needs an account-wide list route")
        return self


def _version_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be a path starting with /")
    return value if value.endswith("/") else value + "/"


class CatalogueSpec(BaseModel):
    """The whole of routes.yaml."""

    model_config = _MODEL

    api_version_path: Annotated[StrictStr, AfterValidator(_version_path)] = "/v10/api/"
    max_page_size: Positive = 250
    resources: dict[StrictStr, ResourceSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_known(self) -> CatalogueSpec:
        for name, resource in self.resources.items():
            if resource.fan_out is not None and resource.fan_out not in self.resources:
                raise ValueError(f"resources.{name}.fan_out: unknown resource {resource.fan_out!r}")
            for table in resource.nested:
                if table not in self.resources:
                    raise ValueError(f"resources.{name}.nested.{table}: unknown resource")
        return self


def validate(raw: Any, source: str) -> CatalogueSpec:
    """The validated document (`ConfigError` naming the key path otherwise)."""
    from pipelines.settings import validate_document

    return validate_document(CatalogueSpec, raw, source)
