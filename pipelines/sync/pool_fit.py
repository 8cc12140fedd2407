"""How many connections a run holds at once, and the run's settings fitted to the pool."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import combinations

from sqlalchemy import Engine

from pipelines.settings import ConfigError, SyncSettings
from pipelines.sync.declared import fan_out_parent
from pipelines.warehouse.engine import pool_capacity

log = logging.getLogger(__name__)


def fit_pool(
    engine: Engine,
    prerequisites: Mapping[str, Sequence[str]],
    settings: SyncSettings,
    *,
    account: str,
) -> SyncSettings:
    """The run's settings, with fewer fan-out batches at once if the pool cannot hold them.

    A run holds one connection for its run locks, one per scan batch in flight (a fan-out
    resource runs `scope_concurrency` of them) for each resource running, and one for a
    short write beside them (its call ledger, its run rows). A smaller pool would make the
    run wait on itself until the pool times out, so before any call the run lowers
    scope_concurrency to what the pool holds (logged; it changes no call, only how many
    cost-centre batches commit side by side), and fails when not even one batch fits.

    Raises:
        ConfigError: says how many connections the run needs and the pool allows.
    """
    capacity = pool_capacity(engine)
    if capacity is None:
        return settings
    wanted = max(1, settings.scope_concurrency)
    for batches in range(wanted, 0, -1):
        need = _connections_needed(prerequisites, batches)
        if need <= capacity:
            break
    else:
        raise ConfigError(
            f"the warehouse engine's connection pool allows {capacity} connection(s) at"
            f" once (pool_size + max_overflow); this sync needs {need} even with one"
            " fan-out batch at a time: make the pool larger"
        )
    if batches < wanted:
        log.warning(
            "account %s: scope_concurrency %d lowered to %d for this run: the warehouse"
            " pool allows %d connections",
            account,
            wanted,
            batches,
            capacity,
        )
        return replace(settings, scope_concurrency=batches)
    return settings


def _connections_needed(prerequisites: Mapping[str, Sequence[str]], batches: int) -> int:
    """Connections a run holds at once with `batches` fan-out batches in flight."""
    held = {r: batches if fan_out_parent(r) is not None else 1 for r in prerequisites}
    # Resources run side by side unless one waits for the other (directly or not).
    groups = (g for n in range(1, len(held) + 1) for g in combinations(held, n))
    side_by_side = max(
        (
            sum(held[r] for r in group)
            for group in groups
            if not any(_ordered(prerequisites, a, b) for a, b in combinations(group, 2))
        ),
        default=0,
    )
    return 2 + side_by_side  # + run locks + a short write


def _ordered(prerequisites: Mapping[str, Sequence[str]], first: str, other: str) -> bool:
    """Whether one of the two waits for the other (so they never run side by side)."""

    def waits_for(later: str, earlier: str) -> bool:
        return any(p == earlier or waits_for(p, earlier) for p in prerequisites[later])

    return waits_for(first, other) or waits_for(other, first)
