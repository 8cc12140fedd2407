"""Run bookkeeping (`ops.sync_runs`) and per-scope sync state (`ops.sync_state`).

Two kinds of writes, two kinds of transactions:

- `start_run` / `finish_run` write `ops.sync_runs` and must run in their OWN short
  transaction (`with engine.begin() as conn: start_run(conn, ...)`), never inside the data
  transaction: a scan that fails rolls its data back, and the 'failed' run row must survive
  that rollback.
- `save_scope_state` runs INSIDE the data transaction, so the cursor moves only if the rows
  it speaks for were committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Connection, text

from pipelines.warehouse.loader import LoadCounts

# Longer error texts are cut: the row is a summary, the log has the rest.
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class ScopeState:
    """One row of ops.sync_state: what the last scans of one scope saw."""

    account: str
    resource: str
    scope: str
    cursor: datetime | None
    last_total: int | None
    last_full_scan_at: datetime | None
    last_success_at: datetime | None
    updated_at: datetime


_START_RUN = text(
    """
    INSERT INTO ops.sync_runs (run_id, account, resource, trigger, mode, status, started_at)
    VALUES (:run_id, :account, :resource, :trigger, :mode, 'running', now())
    ON CONFLICT (run_id, account, resource) DO UPDATE SET
      trigger = EXCLUDED.trigger, mode = EXCLUDED.mode, status = 'running',
      started_at = now(), finished_at = NULL, error = NULL
    """
)

# A run that never got a start row (it failed before) still gets one; trigger and mode
# are then unknown.
_FINISH_RUN = text(
    """
    INSERT INTO ops.sync_runs AS r
      (run_id, account, resource, trigger, mode, status, finished_at,
       inserted, updated, unchanged, deleted, stale, pages, calls, retries,
       skipped, new_fields, error)
    VALUES
      (:run_id, :account, :resource, 'unknown', 'unknown', :status, now(),
       :inserted, :updated, :unchanged, :deleted, :stale, :pages, :calls, :retries,
       CAST(:skipped AS jsonb), CAST(:new_fields AS jsonb), :error)
    ON CONFLICT (run_id, account, resource) DO UPDATE SET
      status = EXCLUDED.status, finished_at = now(),
      inserted = EXCLUDED.inserted, updated = EXCLUDED.updated,
      unchanged = EXCLUDED.unchanged, deleted = EXCLUDED.deleted, stale = EXCLUDED.stale,
      pages = EXCLUDED.pages, calls = EXCLUDED.calls, retries = EXCLUDED.retries,
      skipped = EXCLUDED.skipped, new_fields = EXCLUDED.new_fields, error = EXCLUDED.error
    """
)

# GREATEST ignores NULL: a NULL cursor keeps the stored one, and an older one never wins.
_SAVE_SCOPE_STATE = text(
    """
    INSERT INTO ops.sync_state AS s
      (account, resource, scope, cursor, last_total, last_full_scan_at, last_success_at,
       updated_at)
    VALUES
      (:account, :resource, :scope, :cursor, :total,
       CASE WHEN :full_scan THEN now() END, CASE WHEN :success THEN now() END, now())
    ON CONFLICT (account, resource, scope) DO UPDATE SET
      cursor = GREATEST(s.cursor, EXCLUDED.cursor),
      last_total = COALESCE(EXCLUDED.last_total, s.last_total),
      last_full_scan_at = COALESCE(EXCLUDED.last_full_scan_at, s.last_full_scan_at),
      last_success_at = COALESCE(EXCLUDED.last_success_at, s.last_success_at),
      updated_at = now()
    """
)


def start_run(
    conn: Connection, *, run_id: str, account: str, resource: str, trigger: str, mode: str
) -> None:
    """Record a run of one resource as 'running' (upsert on run_id, account, resource).

    Call in its own short transaction, not in the data transaction (see module docstring).
    """
    conn.execute(
        _START_RUN,
        {
            "run_id": run_id,
            "account": account,
            "resource": resource,
            "trigger": trigger,
            "mode": mode,
        },
    )


def finish_run(
    conn: Connection,
    *,
    run_id: str,
    account: str,
    resource: str,
    status: str,
    counts: LoadCounts,
    pages: int,
    calls: int,
    retries: int,
    skipped: list[dict[str, Any]],
    new_fields: list[str],
    error: str | None,
) -> None:
    """Record how a run ended; finished_at = now().

    Call in its own short transaction, after the data transaction committed or rolled
    back, so that a failed run is recorded as 'failed'. `error` must already be free of
    secrets (TampuuriError's str() is); it is cut to MAX_ERROR_CHARS.
    """
    conn.execute(
        _FINISH_RUN,
        {
            "run_id": run_id,
            "account": account,
            "resource": resource,
            "status": status,
            "inserted": counts.inserted,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
            "deleted": counts.deleted,
            "stale": counts.stale,
            "pages": pages,
            "calls": calls,
            "retries": retries,
            "skipped": orjson.dumps(skipped, default=str).decode(),
            "new_fields": orjson.dumps(sorted(set(new_fields))).decode(),
            "error": None if error is None else error[:MAX_ERROR_CHARS],
        },
    )


def get_cursor(conn: Connection, account: str, resource: str, scope: str = "") -> datetime | None:
    """The change-since cursor of one scope, or None before its first successful scan."""
    cursor = conn.execute(
        text(
            "SELECT cursor FROM ops.sync_state"
            " WHERE account = :account AND resource = :resource AND scope = :scope"
        ),
        {"account": account, "resource": resource, "scope": scope},
    ).scalar_one_or_none()
    return cast(datetime | None, cursor)


@dataclass(frozen=True)
class ScopeStateWrite:
    """What one scan of one scope saw, to record (see `save_scope_state`)."""

    account: str
    resource: str
    scope: str = ""
    cursor: datetime | None = None
    total: int | None = None
    full_scan: bool = False
    success: bool = True

    def params(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "resource": self.resource,
            "scope": self.scope,
            "cursor": self.cursor if self.success else None,
            "total": self.total,
            "full_scan": self.full_scan,
            "success": self.success,
        }


def save_scope_state(
    conn: Connection,
    *,
    account: str,
    resource: str,
    scope: str = "",
    cursor: datetime | None = None,
    total: int | None,
    full_scan: bool,
    success: bool,
) -> None:
    """Record what a scan of one scope saw; call inside the data transaction.

    Args:
        cursor: the newest change time the scan saw. The stored cursor never moves
            backwards, and a failed scan (success False) never moves it at all.
        total: the list's Total on a complete scan; None keeps the stored one.
        full_scan: a complete scan that could find deletions (sets last_full_scan_at).
        success: the scan succeeded (sets last_success_at).
    """
    write = ScopeStateWrite(account, resource, scope, cursor, total, full_scan, success)
    save_scope_states(conn, [write])


def save_scope_states(conn: Connection, writes: Sequence[ScopeStateWrite]) -> None:
    """`save_scope_state` for many scopes at once (a batch of cost centres): one round trip."""
    if writes:
        conn.execute(_SAVE_SCOPE_STATE, [write.params() for write in writes])


def scope_states(conn: Connection, account: str, resource: str) -> dict[str, ScopeState]:
    """Every scope's state of one resource, keyed by scope ('' for account-wide)."""
    rows = conn.execute(
        text(
            "SELECT account, resource, scope, cursor, last_total, last_full_scan_at,"
            " last_success_at, updated_at FROM ops.sync_state"
            " WHERE account = :account AND resource = :resource ORDER BY scope"
        ),
        {"account": account, "resource": resource},
    ).all()
    return {row.scope: ScopeState(*row) for row in rows}


def last_success(conn: Connection, account: str, resource: str) -> datetime | None:
    """When the last run of the resource that ended 'success' finished, or None."""
    finished = conn.execute(
        text(
            "SELECT max(finished_at) FROM ops.sync_runs"
            " WHERE account = :account AND resource = :resource AND status = 'success'"
        ),
        {"account": account, "resource": resource},
    ).scalar_one()
    return cast(datetime | None, finished)
