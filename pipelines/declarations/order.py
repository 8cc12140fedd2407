"""The order a run syncs assets in: their `after` dependencies first (a topological
order), ties by priority, then name."""

from __future__ import annotations

from collections.abc import Iterable

from pipelines.declarations.load import load_declarations


def sync_order(assets: Iterable[str]) -> list[str]:
    """`assets` in the order a run syncs them: each after the assets of its `after` that
    are among them (a topological order), ties by priority, then name.

    Raises:
        ValueError: an unknown asset, or `after` dependencies that form a cycle.
    """
    declared = load_declarations().assets
    wanted = set(assets)
    unknown = sorted(wanted - set(declared))
    if unknown:
        raise ValueError(f"unknown resource(s) {unknown}; known: {list(declared)}")
    remaining = [a for a in declared if a in wanted]  # priority order already
    ordered: list[str] = []
    while remaining:
        ready = next(
            (
                a
                for a in remaining
                if all(d in ordered or d not in wanted for d in declared[a].after)
            ),
            None,
        )
        if ready is None:
            raise ValueError(f"the `after` dependencies of {remaining} form a cycle")
        ordered.append(ready)
        remaining.remove(ready)
    return ordered
