"""The few facts of the route catalogue that decide what a sync costs.

A plan needs to know per resource only whether its list route takes a change-since filter
and whether it fans out over another resource's rows. This adapter reads them from the
route catalogue object (`pipelines.tampuuri.catalogue.Catalogue`, the one reader of
`config/routes.yaml`), so the budget code does not depend on the catalogue's internals.
Which resource an asset scans comes from the resource declarations (`pipelines.declarations`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.declarations import load_declarations
from pipelines.tampuuri.catalogue import Catalogue, ResourceRoutes, load_catalogue

PAGE_SIZE = 250
__all__ = [
    "ResourceFacts",
    "asset_resources",
    "load_resource_facts",
    "resource_facts",
    "state_resource",
]


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


def asset_resources() -> tuple[str, ...]:
    """The assets every account syncs (the declared ones not opt-in), in priority order."""
    return load_declarations().synced_assets()


def state_resource(resource: str) -> str:
    """The sync_state resource name of an asset resource (`osapuolet` scans the links):
    the resource its sync scans; a name that is no asset is itself."""
    declarations = load_declarations()
    return declarations.scanned(resource) if resource in declarations.assets else resource


def _confirm(spec: ResourceRoutes) -> str | None:
    # The sync prefers a batch route over a detail route (one call per many ids).
    if spec.batch is not None:
        return "batch"
    if spec.detail is not None:
        return "detail"
    return None


def resource_facts(catalogue: Catalogue | None = None) -> dict[str, ResourceFacts]:
    """Facts per catalogue resource.

    Args:
        catalogue: The route catalogue; None loads it (`load_catalogue()`: routes.yaml, the
            declarations and the doctor's overrides).
    """
    if catalogue is None:
        catalogue = load_catalogue()
    page_size = catalogue.max_page_size or PAGE_SIZE
    return {
        str(name): ResourceFacts(
            name=str(name),
            change_since=spec.change_since or None,
            fan_out=spec.fan_out or None,
            page_size=int(page_size),
            confirm=_confirm(spec),
            batch_size=int((spec.batch.max_ids if spec.batch else None) or PAGE_SIZE),
            nested=tuple(str(t) for t in spec.nested),
        )
        for name, spec in catalogue.resources.items()
    }


def load_resource_facts(path: Path | None = None) -> dict[str, ResourceFacts]:
    """Facts from the catalogue loaded from a routes YAML file (default `config/routes.yaml`)."""
    return resource_facts(load_catalogue(path))
