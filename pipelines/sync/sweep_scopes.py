"""Which fan-out scopes (cost centres) the sweep re-scans tonight, and which account-wide
lists were read in full recently: the sweep's warehouse reads of `ops.sync_state`."""

from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import Engine

from pipelines.budget.shaping import choose_scopes
from pipelines.declarations import load_declarations
from pipelines.settings import AccountConfig
from pipelines.warehouse import state
from pipelines.warehouse.declared_reads import fan_out_ids

# A scope's scan costs a page per this many rows of its last Total (at least one call).
PAGE_ROWS = 250


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
    engine: Engine, account: AccountConfig, asset: str, *, allowance: int, now: datetime
) -> tuple[list[int], int]:
    """A fan-out asset's share tonight (`shaping.choose_scopes`: the coverage floor, then
    the stalest that fit `allowance`), by each scope's last full scan; and its cost."""
    declarations = load_declarations()
    declared = declarations[declarations.scanned(asset)]
    parent = declarations[declared.spec.routes.fan_out or ""]
    with engine.connect() as conn:
        active = fan_out_ids(conn, parent, account.name, scope=account.scope or None, only=None)
        scopes = {str(row_id) for row_id in active}
        states = state.scope_states(conn, account.name, declared.name)
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
    )
    return sorted(int(s) for s in chosen), sum(costs[s] for s in chosen)
