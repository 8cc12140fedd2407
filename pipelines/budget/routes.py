"""The few facts of the route catalogue that decide what a sync costs.

A plan needs to know per resource only whether its list route takes a change-since filter
and whether it fans out over another resource's rows. This adapter reads them from the
route catalogue object (`pipelines.tampuuri.catalogue.Catalogue`), from the raw YAML
mapping, or straight from `config/routes.yaml`, so the budget code does not depend on the
catalogue's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.settings import CONFIG_DIR, ConfigError
from pipelines.sync.scans import ASSET_RESOURCES, table_resource
from pipelines.tampuuri.catalogue_overrides import apply_overrides

ROUTES_FILE = CONFIG_DIR / "routes.yaml"
PAGE_SIZE = 250
__all__ = ["ASSET_RESOURCES", "ResourceFacts", "resource_facts", "state_resource"]


@dataclass(frozen=True)
class ResourceFacts:
    """What the catalogue says about one resource's list route."""

    name: str
    change_since: str | None = None
    fan_out: str | None = None
    page_size: int = PAGE_SIZE
    # How a row missing from a complete scan is confirmed deleted: one detail call per row,
    # one batch call per `batch_size` rows, or (None) a second scan, which costs nothing extra.
    confirm: str | None = None
    batch_size: int = PAGE_SIZE
    # Tables whose rows arrive nested in this resource's items (a link's party).
    nested: tuple[str, ...] = ()


def state_resource(resource: str) -> str:
    """The sync_state resource name of an asset resource (`osapuolet` scans the links)."""
    return table_resource(resource)


def _field(spec: Any, key: str) -> Any:
    if isinstance(spec, Mapping):
        return spec.get(key)
    return getattr(spec, key, None)


def _confirm(spec: Any) -> str | None:
    # The sync prefers a batch route over a detail route (one call per many ids).
    if _field(spec, "batch") is not None:
        return "batch"
    if _field(spec, "detail") is not None:
        return "detail"
    return None


def resource_facts(catalogue: Any = None) -> dict[str, ResourceFacts]:
    """Facts per catalogue resource from a Catalogue object, a raw mapping, or the file.

    Args:
        catalogue: None (load the validated catalogue), the parsed YAML mapping, or any object
            with a `resources` mapping whose values have `change_since` / `fan_out`.
    """
    raw = _read_routes(ROUTES_FILE) if catalogue is None else catalogue
    resources = _field(raw, "resources")
    if not isinstance(resources, Mapping):
        raise ConfigError(f"{ROUTES_FILE}: resources: must be a mapping")
    page_size = _field(raw, "max_page_size") or _field(raw, "page_size") or PAGE_SIZE
    return {
        str(name): ResourceFacts(
            name=str(name),
            change_since=_field(spec, "change_since") or None,
            fan_out=_field(spec, "fan_out") or None,
            page_size=int(page_size),
            confirm=_confirm(spec),
            batch_size=int(_field(_field(spec, "batch"), "max_ids") or PAGE_SIZE),
            nested=tuple(str(t) for t in (_field(spec, "nested") or {})),
        )
        for name, spec in resources.items()
    }


def load_resource_facts(path: Path | None = None) -> dict[str, ResourceFacts]:
    """Facts read from a routes YAML file (default `config/routes.yaml`)."""
    return resource_facts(_read_routes(path or ROUTES_FILE))


def _read_routes(path: Path) -> Any:
    """The routes file (its resources from the declarations: `catalogue_document`) with the
    corrections `tampuuri-sync doctor` measured beside it."""
    from pipelines.tampuuri.catalogue import catalogue_document

    return apply_overrides(catalogue_document(path), path)
