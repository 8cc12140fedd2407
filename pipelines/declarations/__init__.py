"""Resource declarations: config/resources/*.yaml, the one description of each mirrored
route (docs/adding-a-resource.md). Tables, the route catalogue, assets, checks, plans,
webhook refreshes, the reconciliation sweep and BI views all derive from them."""

from pipelines.declarations.load import RESOURCES_DIR, load_declarations, resources_dir
from pipelines.declarations.model import Asset, Declarations, Declared, EventBinding

__all__ = [
    "RESOURCES_DIR",
    "Asset",
    "Declarations",
    "Declared",
    "EventBinding",
    "load_declarations",
    "resources_dir",
]
