"""The typed schema of a resource declaration (config/resources/*.yaml), strict.

A declaration says everything the product needs to mirror one Tampuuri route: its routes
(the route catalogue's part, validated by `tampuuri.catalogue_schema.ResourceSpec`), its
key and change-time field, typed columns, nested rows of other resources, child tables,
how it relates to cost centres, which webhooks refresh it and how, its priority and
freshness target, and its BI view. Unknown keys, wrong types and dangling references are
`ConfigError`s naming the file and the key path (`load.py` checks the references).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from pipelines.settings.values import PositiveFloat, StrictBool, StrictInt, StrictStr
from pipelines.tampuuri.catalogue_schema import ResourceSpec, RouteSpec

_MODEL = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
ColumnType = Literal["text", "bigint", "integer", "numeric", "boolean", "timestamptz", "date"]
RefreshMethod = Literal["detail", "batch", "change_since_scan", "scope_scan", "list_tail"]
WebhookAction = Literal["refresh", "delete", "refresh_scope"]
Secondary = Literal["kustannuspaikka", "osapuoli", "kohde"]


def _identifier(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError("must be a lower-case SQL identifier (letters a-z, digits, _)")
    if len(value) > 50:
        raise ValueError("must be at most 50 characters (history tables add '_history')")
    return value


def _json_path(value: str) -> str:
    parts = value.split(".")
    if not all(part.strip() for part in parts):
        raise ValueError("must be a field name or a dotted path such as Osapuoli.Nimi")
    return value


Identifier = Annotated[StrictStr, AfterValidator(_identifier)]
JsonPath = Annotated[StrictStr, AfterValidator(_json_path)]
Text = Annotated[StrictStr, Field(min_length=1)]


class ColumnSpec(BaseModel):
    """A typed column: extracted in SQL from the stored item, NULL when the shape is off.

    `path` names the item's field (a dotted path for a nested one). `from: fan_out`
    instead fills the column with the id a fan-out list was called for (the items of
    `POST huoltokirja/{kohde_id}/tehtavat/selaa` do not say their cost centre).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Identifier
    path: JsonPath | None = None
    type: ColumnType
    from_: Literal["item", "fan_out"] = Field(default="item", alias="from")

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        if (self.path is None) == (self.from_ == "item"):
            raise ValueError("path: give a path (the item's field) or from: fan_out, not both")
        return self


class ChildTableSpec(BaseModel):
    """A list inside each item that becomes its own table (`<table>`: one row an element)."""

    model_config = _MODEL

    table: Identifier
    field: Text
    columns: list[ColumnSpec] = Field(default_factory=list)


class RoutesSpec(BaseModel):
    """The route catalogue's part of a declaration (section 7 of tampuuri-api.md)."""

    model_config = _MODEL

    list: RouteSpec | None = None
    detail: RouteSpec | None = None
    batch: RouteSpec | None = None
    fan_out: Text | None = None
    change_since: Text | None = None
    scope_filter: Text | None = None
    ordered_by_id: StrictBool = False


class CostCentreSpec(BaseModel):
    """Which cost centre a row belongs to: the typed `column` holds its id, or, with
    `through`, the id of a row of that resource, whose own cost centre it is."""

    model_config = _MODEL

    column: Identifier
    through: Text | None = None


class WebhookSpec(BaseModel):
    """What one webhook event type means for this resource.

    `refresh`: ReferenceId is a row id, re-read it. `delete`: confirm the row is gone
    (404 or absent from the batch route), then soft-delete it. `refresh_scope`:
    ReferenceId is a value of the list's `scope_filter` (an object id): re-read the rows
    under it. `secondary`: what ReferenceSecondaryId holds, when the refresh can use it.
    """

    model_config = _MODEL

    action: WebhookAction
    secondary: Secondary | None = None


class RefreshSpec(BaseModel):
    """How a targeted refresh reads rows: `one` for a single id, `many` for several."""

    model_config = _MODEL

    one: RefreshMethod
    many: RefreshMethod


class MaskSpec(BaseModel):
    """BI masking: the `columns` read `value` when the boolean column `when` is true or
    unknown (fail closed), as turvakielto does for a party's contact data."""

    model_config = _MODEL

    when: Identifier
    columns: list[Identifier] = Field(min_length=1)
    value: StrictStr = "***"


class BiColumnSpec(BaseModel):
    """A column of the BI view: a table column, optionally renamed."""

    model_config = _MODEL

    column: Identifier
    as_: Identifier | None = Field(default=None, alias="as")


class BiViewSpec(BaseModel):
    """The resource's view in schema `bi` (read by the read-only role `tampuuri_bi`).

    Either generated (`columns`, `mask`: active rows only, the raw item never shown) or a
    hand-written `sql` file under sql/views/ for a view with logic of its own.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    view: Identifier
    key_as: Identifier | None = None
    columns: list[BiColumnSpec | Identifier] = Field(default_factory=list)
    mask: MaskSpec | None = None
    sql: Text | None = None

    @model_validator(mode="after")
    def _generated_or_written(self) -> BiViewSpec:
        if self.sql is not None and (self.columns or self.mask or self.key_as):
            raise ValueError("sql: a hand-written view takes no columns, mask or key_as")
        if self.sql is None and not self.columns:
            raise ValueError("columns: a generated view needs at least one column")
        return self


class ResourceDeclaration(BaseModel):
    """One resource (one mirrored table) as declared."""

    model_config = _MODEL

    description: Text
    # What one of the table's rows is, where an asset writes several tables ("links").
    label: Text | None = None
    # Synced only for accounts that list it in their `resources:` (accounts.yaml): every
    # call is billed, and not every licence includes every route.
    opt_in: StrictBool = False
    asset: Identifier | None = None
    after: list[Identifier] = Field(default_factory=list)
    priority: StrictInt = 50
    freshness_hours: PositiveFloat | None = None
    key: Text = "Id"
    changed_field: Text | None = None
    routes: RoutesSpec = Field(default_factory=RoutesSpec)
    nested: dict[Identifier, Text] = Field(default_factory=dict)
    children: list[ChildTableSpec] = Field(default_factory=list)
    cost_centre: CostCentreSpec | None = None
    columns: list[ColumnSpec] = Field(default_factory=list)
    indexes: list[list[Identifier]] = Field(default_factory=list)
    known_fields: list[Text] = Field(default_factory=list)
    webhooks: dict[Text, WebhookSpec] = Field(default_factory=dict)
    refresh: RefreshSpec | None = None
    bi: BiViewSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ResourceDeclaration:
        names = [c.name for c in self.columns]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"columns: {name!r} is declared twice")
        reserved = {"account", "id", "data", "row_hash", "first_seen_at", "synced_at"}
        reserved |= {"changed_at", "deleted_at", "missing_since"}
        for name in names:
            if name in reserved:
                raise ValueError(f"columns: {name!r} is a column every table has already")
        for i, index in enumerate(self.indexes):
            unknown = [c for c in index if c not in names]
            if unknown or not index:
                raise ValueError(f"indexes[{i}]: not typed columns: {unknown or 'empty'}")
        if any(c.from_ == "fan_out" for c in self.columns) and not self.routes.fan_out:
            raise ValueError("columns: from: fan_out needs routes.fan_out")
        if self.changed_field is not None and self.changed_field not in {
            c.path for c in self.columns
        }:
            raise ValueError(f"changed_field: no typed column reads {self.changed_field!r}")
        if self.cost_centre is not None and self.cost_centre.column not in {"id", *names}:
            raise ValueError(f"cost_centre.column: {self.cost_centre.column!r} is not a column")
        if self.bi is not None and self.bi.mask is not None:
            shown = {c if isinstance(c, str) else c.column for c in self.bi.columns}
            missing = [c for c in (self.bi.mask.when, *self.bi.mask.columns) if c not in names]
            if missing:
                raise ValueError(f"bi.mask: not typed columns: {missing}")
            if not set(self.bi.mask.columns) <= shown:
                raise ValueError("bi.mask.columns: each masked column must be in bi.columns")
        self._routes_fit_the_catalogue()
        return self

    def catalogue_entry(self) -> dict[str, Any]:
        """The resource as the route catalogue's raw document has it (routes.yaml's old
        `resources.<name>`), so the doctor's overrides and the catalogue's checks apply."""
        entry: dict[str, Any] = {"id_field": self.key}
        entry.update(self.routes.model_dump(exclude_none=True, exclude_defaults=True))
        if self.changed_field is not None:
            entry["changed_field"] = self.changed_field
        if self.nested:
            entry["nested"] = dict(self.nested)
        return entry

    def _routes_fit_the_catalogue(self) -> None:
        """The catalogue's own rules (a list is paged, a batch carries ids...), named
        under `routes.` here; the routes' types were checked with the rest."""
        try:
            ResourceSpec.model_validate(self.catalogue_entry())
        except ValidationError as exc:
            problem = str(exc.errors(include_url=False)[0]["msg"])
            raise ValueError("routes." + problem.removeprefix("Value error, ")) from None


class ResourcesFile(BaseModel):
    """One file of config/resources/: resource name -> declaration."""

    model_config = _MODEL

    resources: dict[Identifier, ResourceDeclaration] = Field(min_length=1)
