"""The resolved resource declarations: what every other module asks about a resource.

`Declarations` is built by `load.py` from config/resources/*.yaml once the references
between files are checked. Nothing here names a resource: a module that needs "the cost
centres" asks for the resource other lists fan out over, one that needs an asset's tables
asks the asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from pipelines.declarations.schema import ResourceDeclaration, WebhookSpec
from pipelines.declarations.table_spec import ChildSpec, Column, TableSpec


@dataclass(frozen=True)
class Declared:
    """One declared resource (one mirrored table) and the file it came from."""

    name: str
    spec: ResourceDeclaration
    source: Path

    @property
    def asset(self) -> str:
        """The Dagster asset (and sync unit) the resource belongs to."""
        return self.spec.asset or self.name

    @property
    def listed(self) -> bool:
        """Whether the resource has a list route of its own (it is scanned)."""
        return self.spec.routes.list is not None

    @cached_property
    def table(self) -> TableSpec:
        """The warehouse table the declaration describes."""
        spec = self.spec
        columns = tuple(_column(c.name, c.path, c.type, c.from_) for c in spec.columns)
        changed = next((c.name for c in spec.columns if c.path == spec.changed_field), None)
        known = {spec.key, *spec.known_fields}
        known |= {c.path.split(".")[0] for c in spec.columns if c.path is not None}
        known |= set(spec.nested.values()) | {child.field for child in spec.children}
        if spec.changed_field:
            known.add(spec.changed_field)
        return TableSpec(
            name=self.name,
            columns=columns,
            changed_column=changed,
            known_fields=frozenset(known),
            indexes=tuple(tuple(index) for index in spec.indexes),
            children=tuple(
                ChildSpec(
                    name=child.table,
                    field=child.field,
                    columns=tuple(_column(c.name, c.path, c.type) for c in child.columns),
                )
                for child in spec.children
            ),
        )

    def catalogue_entry(self) -> dict[str, Any]:
        """The resource as the route catalogue's raw document has it."""
        return self.spec.catalogue_entry()


def _column(name: str, path: str | None, type_: str, source: str = "item") -> Column:
    return Column(name=name, sql_type=type_, field=path or "", cast=type_, source=source)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Asset:
    """A Dagster asset and sync unit: its primary (scanned) resource and the resources
    whose rows arrive nested in it."""

    name: str
    primary: Declared
    members: tuple[Declared, ...]
    after: tuple[str, ...]

    @property
    def description(self) -> str:
        return self.primary.spec.description

    @property
    def opt_in(self) -> bool:
        """Synced only for the accounts that list it in their `resources:`."""
        return self.primary.spec.opt_in

    @property
    def freshness_hours(self) -> float | None:
        return self.primary.spec.freshness_hours

    @property
    def priority(self) -> int:
        return self.primary.spec.priority

    @property
    def tables(self) -> tuple[str, ...]:
        """Its tables, the primary first, then nested ones and child tables."""
        names = [m.name for m in self.members]
        for member in self.members:
            names.extend(child.table for child in member.spec.children)
        return tuple(names)


@dataclass(frozen=True)
class EventBinding:
    """A webhook event type bound to the resource whose declaration names it."""

    event_type: str
    resource: str
    rule: WebhookSpec


@dataclass(frozen=True)
class Declarations:
    """Every declared resource, in priority order (then name)."""

    resources: Mapping[str, Declared]
    directory: Path

    def __getitem__(self, name: str) -> Declared:
        try:
            return self.resources[name]
        except KeyError:
            known = ", ".join(self.resources)
            where = f"{self.directory} ({known})"
            raise KeyError(f"no resource {name!r} is declared in {where}") from None

    @cached_property
    def assets(self) -> dict[str, Asset]:
        """Asset name -> Asset, in priority order of their primary resources."""
        grouped: dict[str, list[Declared]] = {}
        for declared in self.resources.values():
            grouped.setdefault(declared.asset, []).append(declared)
        assets = {}
        for name, members in grouped.items():
            primary = next(m for m in members if m.listed)
            ordered = (primary, *(m for m in members if m is not primary))
            after = tuple(dict.fromkeys(a for m in ordered for a in m.spec.after))
            assets[name] = Asset(name=name, primary=primary, members=ordered, after=after)
        return dict(sorted(assets.items(), key=lambda item: (item[1].priority, item[0])))

    @cached_property
    def tables(self) -> dict[str, TableSpec]:
        """Table name -> TableSpec for every declared resource."""
        return {name: declared.table for name, declared in self.resources.items()}

    def synced_assets(self, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The assets an account syncs: every one not opt-in, and the opt-in ones in
        `extra` (the account's `resources:`), in priority order."""
        return tuple(a for a, asset in self.assets.items() if not asset.opt_in or a in extra)

    def asset_of(self, resource: str) -> str:
        """The asset a resource (table) belongs to."""
        return self[resource].asset

    def scanned(self, asset: str) -> str:
        """The resource whose list route a sync of `asset` scans (its primary)."""
        return self.assets[asset].primary.name

    @cached_property
    def events(self) -> dict[str, EventBinding]:
        """Webhook event type -> the resource and rule that handle it."""
        return {
            event: EventBinding(event, declared.name, rule)
            for declared in self.resources.values()
            for event, rule in declared.spec.webhooks.items()
        }

    def fan_out_parents(self) -> frozenset[str]:
        """The resources some list fans out over (the cost centres, in the built-ins)."""
        return frozenset(
            d.spec.routes.fan_out for d in self.resources.values() if d.spec.routes.fan_out
        )

    def catalogue_resources(self) -> dict[str, dict[str, Any]]:
        """The route catalogue's `resources` document (see `Declared.catalogue_entry`)."""
        return {name: declared.catalogue_entry() for name, declared in self.resources.items()}
