"""What a sync asks of the resource declarations (config/resources/, `pipelines.declarations`).

Nothing here names a resource: the order assets sync in comes from their `after`
dependencies (priority breaking ties), "the lists the sweep probes" are the scanned
resources without a fan-out, a fan-out scan's scope column is the column holding the id
its list was called for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import overload

from pipelines.declarations import Declared, load_declarations
from pipelines.declarations.order import sync_order

__all__ = [
    "LazyMap",
    "LazyNames",
    "fan_out_assets",
    "fan_out_column",
    "fan_out_parent",
    "has_fan_out_column",
    "probed_lists",
    "sync_order",
]


class LazyNames(Sequence[str]):
    """A tuple of names computed from the declarations each time it is read, so a module
    can export one (`scans.ASSET_RESOURCES`) without reading config when imported: a bad
    declaration then surfaces as the CLI's one-line error, not an import traceback."""

    def __init__(self, names: Callable[[], tuple[str, ...]]) -> None:
        self._names = names

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Sequence) else other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(self._names())


class LazyMap(Mapping[str, str]):
    """A name -> name mapping computed from the declarations each time it is read."""

    def __init__(self, mapping: Callable[[], Mapping[str, str]]) -> None:
        self._mapping = mapping

    def __getitem__(self, key: str) -> str:
        return self._mapping()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())

    def __repr__(self) -> str:
        return repr(dict(self._mapping()))


def fan_out_parent(asset: str) -> str | None:
    """The asset whose rows the asset's list fans out over (None: an account-wide list)."""
    declarations = load_declarations()
    parent = declarations.assets[asset].primary.spec.routes.fan_out
    return None if parent is None else declarations.asset_of(parent)


def probed_lists(assets: Iterable[str]) -> dict[str, str]:
    """The account-wide lists among `assets` (scanned resource -> asset), in priority order:
    what the reconciliation sweep probes for its Total."""
    declarations = load_declarations()
    wanted = set(assets)
    return {
        asset.primary.name: name
        for name, asset in declarations.assets.items()
        if name in wanted and asset.primary.spec.routes.fan_out is None
    }


def fan_out_assets(assets: Iterable[str]) -> list[str]:
    """The fan-out assets among `assets`, in priority order."""
    declarations = load_declarations()
    wanted = set(assets)
    return [
        name
        for name, asset in declarations.assets.items()
        if name in wanted and asset.primary.spec.routes.fan_out is not None
    ]


def fan_out_column(declared: Declared) -> str:
    """The typed column of a fan-out resource holding its parent's id (the scope a scan of
    one parent row speaks for): its `from: fan_out` column, else its cost-centre column
    when that names the parent (directly, or the parent is the cost centres themselves).

    Raises:
        ValueError: the declaration says no column holds the parent's id.
    """
    for column in declared.table.columns:
        if column.source == "fan_out":
            return column.name
    parent_name = declared.spec.routes.fan_out
    if parent_name is None:
        raise ValueError(f"{declared.name}: not a fan-out resource")
    parent = load_declarations()[parent_name]
    own, theirs = declared.spec.cost_centre, parent.spec.cost_centre
    if own is not None and own.through == parent.name:
        return own.column
    parent_is_cost_centres = theirs is not None and (theirs.column, theirs.through) == ("id", None)
    if own is not None and own.through is None and parent_is_cost_centres:
        return own.column
    raise ValueError(
        f"{declared.source.name}: {declared.name}: no column holds the id of the"
        f" {parent.name} row its list is called for: declare one `from: fan_out`"
    )


def has_fan_out_column(declared: Declared) -> bool:
    """Whether the table stores its scan's fan-out id beside each row (`from: fan_out`)."""
    return any(c.source == "fan_out" for c in declared.table.columns)
