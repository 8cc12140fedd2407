"""Which fan-out scopes (cost centres) the sweep re-scans tonight, and which account-wide
lists were read in full recently: the sweep's warehouse reads of `ops.sync_state` (and of
`ops.sync_runs`, for when the previous sweep's fan-out scans ended)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Engine, text

from pipelines.budget.shaping import SWEEP_SLACK, choose_scopes
from pipelines.declarations import load_declarations
from pipelines.settings import AccountConfig
from pipelines.sync.sweep import TRIGGER
from pipelines.warehouse import state
from pipelines.warehouse.declared_reads import fan_out_ids

# A scope's scan costs a page per this many rows of its last Total (at least one call).
PAGE_ROWS = 250
# Tonight's own runs (its incrementals, before the fan-outs) are left out by their run id.
_PREVIOUS_SWEEP = text(
    "SELECT max(finished_at) FROM ops.sync_runs WHERE account = :account"
    " AND trigger = :trigger AND run_id <> :run_id AND finished_at <= :now"
)


def rescanned_recently(
    engine: Engine, account: AccountConfig, resources: list[str], since: datetime
) -> set[str]:
    """The resources whose account-wide list was last scanned in full after `since`."""
    if not resources:
        return set()
    with engine.connect() as conn:
        states = {r: state.scope_states(conn, account.name, r).get("") for r in resources}
    return {
        r
        for r, s in states.items()
        if s is not None and s.last_full_scan_at is not None and s.last_full_scan_at > since
    }


def stalest_scopes(
    engine: Engine,
    account: AccountConfig,
    asset: str,
    *,
    allowance: int,
    now: datetime,
    run_id: str = "",
) -> tuple[list[int], int]:
    """A fan-out asset's share tonight (`shaping.choose_scopes`: the coverage floor less
    the scopes re-read since the previous sweep, every due scope, then the stalest that
    fit `allowance`), by each scope's last full scan; and its cost. `run_id`: tonight's
    sweep (its own runs are not the previous sweep)."""
    declarations = load_declarations()
    declared = declarations[declarations.scanned(asset)]
    parent = declarations[declared.spec.routes.fan_out or ""]
    with engine.connect() as conn:
        active = fan_out_ids(conn, parent, account.name, scope=account.scope or None, only=None)
        scopes = {str(row_id) for row_id in active}
        states = state.scope_states(conn, account.name, declared.name)
        since = reread_since(conn, account.name, now, run_id)
    last = {s: (states[s].last_full_scan_at if s in states else None) for s in scopes}
    costs = {
        s: max(1, math.ceil((states[s].last_total or 0) / PAGE_ROWS)) if s in states else 1
        for s in scopes
    }
    chosen = choose_scopes(
        last,
        costs,
        allowance=allowance,
        period_days=account.budget.full_scan_period_days,
        now=now,
        reread_since=since,
    )
    return sorted(int(s) for s in chosen), sum(costs[s] for s in chosen)


def reread_since(conn: Connection, account: str, now: datetime, run_id: str) -> datetime | None:
    """When the previous sweep's runs ended (`ops.sync_runs`, trigger "reconcile", another
    run than `run_id`): complete reads after it are re-reads (a webhook refresh's listing)
    that count toward tonight's share. None before the first sweep (today's round robin).
    A night whose sweep ran nothing left no run: the credit then reaches back one night
    (and the slack) at most, so a re-read is counted once."""
    params = {"account": account, "trigger": TRIGGER, "run_id": run_id, "now": now}
    ended = cast(datetime | None, conn.execute(_PREVIOUS_SWEEP, params).scalar_one())
    if ended is None:
        return None
    return max(ended, now - timedelta(days=1) - SWEEP_SLACK)
