"""Events for resources an account does not sync (an opt-in asset it has not opted in to).

Such an event is stored like any other, then marked `done` with no API call (counted with
the ignored ones): the account's licence may not even include the route, and every call
is billed. The account's synced assets come from `AccountConfig.synced_assets()`; the
asset of a resource from the declarations. Nothing is dropped: the inbox keeps the event.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Engine

from pipelines.declarations import load_declarations
from pipelines.settings import AccountConfig
from pipelines.webhooks import inbox
from pipelines.webhooks.coalesce import RefreshBatch
from pipelines.webhooks.events import EventMapping
from pipelines.webhooks.inbox import InboxEvent
from pipelines.webhooks.process_record import ProcessResult

Targets = dict[tuple[str, str], tuple[int, ...]]


def unsynced_resources(account: AccountConfig) -> frozenset[str]:
    """The declared resources whose asset the account does not sync."""
    declarations = load_declarations()
    synced = set(account.synced_assets())
    return frozenset(
        name for name, declared in declarations.resources.items() if declared.asset not in synced
    )


def set_aside_unsynced(
    engine: Engine,
    account: AccountConfig,
    event_account: str,
    batch: RefreshBatch,
    events: Sequence[InboxEvent],
    rules: EventMapping,
    result: ProcessResult,
) -> tuple[Targets, list[InboxEvent]]:
    """The account's targets and events without those of unsynced resources; the events
    set aside are marked done (no call) and counted in `result.ignored` (blocking)."""
    unsynced = unsynced_resources(account)
    targets = {
        (resource, action): ids
        for (acc, resource, action), ids in batch.targets.items()
        if acc == event_account and resource not in unsynced
    }
    kept: list[InboxEvent] = []
    aside: list[int] = []
    for event in events:
        rule = rules.rule(event.action)
        if rule is not None and rule.resource in unsynced:
            aside.append(event.event_id)
        else:
            kept.append(event)
    if aside:
        with engine.begin() as conn:
            result.ignored += inbox.mark_done(conn, aside, result.run_id)
    return targets, kept
