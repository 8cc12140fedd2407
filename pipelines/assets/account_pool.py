"""One Dagster concurrency pool per account: `tampuuri-<account>`.

Every step that calls an account's API (the four sync assets, the reconciliation sweep)
holds a slot of the account's pool while it does, so at most the pool's limit of such
steps call one account at once, across runs: the nightly run, the sweep and runs started
from the UI share it. The limit is `concurrency: pools: default_limit` in
config/dagster.yaml (the local instance of `make ui` sets the same); a pool's limit can
be changed in the UI (Deployment > Concurrency), which also shows who holds its slots.

Why the slot is claimed inside the step rather than with `pool=` on the definition: a
pool named on an asset or op is one static name for every partition and run config
(Dagster builds a step's pool from `node.definition.pool`), while these steps are
partitioned by account or take it from run config. The claim goes through the same
instance storage the executor uses; a step frees its slots when it ends, and run
monitoring frees those of a run whose worker died (`free_slots_after_run_end_seconds`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.execution.plan.instance_concurrency_context import (
    InstanceConcurrencyContext,
)

POOL_PREFIX = "tampuuri-"
# How often a waiting step asks again (the storage paces its own re-checks on top).
POLL_S = 0.25


def pool_name(account: str) -> str:
    """The pool of one account's API work."""
    return f"{POOL_PREFIX}{account}"


@contextmanager
def account_pools(
    context: dg.OpExecutionContext | dg.AssetExecutionContext, accounts: Iterable[str]
) -> Iterator[None]:
    """Hold a slot of each account's pool (claimed in name order, so two steps never wait
    on each other) for the body, waiting while the pools are full."""
    pools = sorted({pool_name(account) for account in accounts})
    step = context.get_step_execution_context().step.key
    held: list[str] = []
    with InstanceConcurrencyContext(context.instance, context.run) as slots:
        try:
            for pool in pools:
                slot = f"{step}[{pool}]"
                waited = time.monotonic()
                told = False
                while not slots.claim(pool, slot):
                    if not told:
                        context.log.info(f"waiting for a slot of concurrency pool {pool}")
                        told = True
                    time.sleep(POLL_S)
                if told:
                    context.log.info(
                        f"got a slot of {pool} after {time.monotonic() - waited:.1f} s"
                    )
                held.append(slot)
            yield
        finally:
            for slot in held:
                slots.free_step(slot)
