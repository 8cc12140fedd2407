"""How many warehouse connections a run holds at once, and the schedule a pool allows.

A run holds one connection for its run locks (`RunLocks`) and, per scan batch, one per
table the batch loads (a link batch: the links and their parties) until the batch
commits; a fan-out resource runs `scope_concurrency` batches at once. Resources that run
side by side add up; a resource and the ones it waits for (`engine._prerequisites`)
never hold connections at the same time.

A pool smaller than that made a run wait on itself: a checkout for the run's bookkeeping
blocks the event loop while the loads that would give a connection back need the loop,
until the pool's timeout fails the run. So a run asks first: resources side by side if
the engine's pool allows it, else one at a time, else a `ConfigError` before any call
that says how large the pool must be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipelines.settings import ConfigError
from pipelines.sync.scans import table_resource
from pipelines.tampuuri.catalogue import Catalogue

Prerequisites = Mapping[str, Sequence[str]]
RUN_LOCK_CONNECTIONS = 1


def one_at_a_time(resources: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Prerequisites that chain `resources` in their order: each waits for the one before."""
    return {r: tuple(resources[:i][-1:]) for i, r in enumerate(resources)}


def peak_connections(
    prerequisites: Prerequisites, catalogue: Catalogue, *, scope_concurrency: int
) -> int:
    """The most connections a run with these prerequisites holds at once.

    Resources linked by prerequisites (directly or not) form a chain whose members run
    one after another: a chain holds at most what its largest member holds. Chains run
    side by side and add up.
    """
    chain_of = {resource: resource for resource in prerequisites}

    def root(resource: str) -> str:
        while chain_of[resource] != resource:
            resource = chain_of[resource]
        return resource

    for resource, earlier in prerequisites.items():
        for other in earlier:
            chain_of[root(other)] = root(resource)
    largest: dict[str, int] = {}
    for resource in prerequisites:
        routes = catalogue.resources[table_resource(resource)]
        batches = max(1, scope_concurrency) if routes.fan_out else 1
        held = (1 + len(routes.nested)) * batches
        largest[root(resource)] = max(largest.get(root(resource), 0), held)
    return RUN_LOCK_CONNECTIONS + sum(largest.values())


def fit_to_pool(
    prerequisites: Prerequisites,
    catalogue: Catalogue,
    *,
    capacity: int | None,
    scope_concurrency: int,
) -> Prerequisites:
    """`prerequisites` if a pool of `capacity` connections serves them (None: no limit),
    else the resources one at a time.

    Raises:
        ConfigError: not even one resource at a time fits; says how many connections a
            sync needs and how many the pool allows.
    """
    if capacity is None:
        return prerequisites
    need = peak_connections(prerequisites, catalogue, scope_concurrency=scope_concurrency)
    if need <= capacity:
        return prerequisites
    serial = one_at_a_time(list(prerequisites))
    least = peak_connections(serial, catalogue, scope_concurrency=scope_concurrency)
    if least > capacity:
        raise ConfigError(
            f"the warehouse engine's connection pool allows {capacity} connection(s) at"
            f" once (pool_size + max_overflow); a sync needs at least {least}, or"
            f" {need} to run its resources side by side"
        )
    return serial
