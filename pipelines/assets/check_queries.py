"""The asset checks as plain functions over a warehouse connection (no Dagster).

Each returns a `CheckOutcome`: whether it passed, one line saying why, and metadata.
Which tables and `ops.sync_state` resources an asset's checks read comes from the resource
declarations (`AssetTables`): an asset's counts and state are those of its scanned
(primary) resource, e.g. the links for the parties' asset, while its history check covers
every table it writes. A fan-out asset is counted per scope (the row it was listed for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, TextClause, text

from pipelines.declarations import load_declarations
from pipelines.warehouse.migrations import SQL_DIR
from pipelines.warehouse.tables import TABLES

CHECKS_DIR = SQL_DIR / "checks"

SHOWN = 20


@dataclass(frozen=True)
class AssetTables:
    """What an asset's checks read, from its declaration."""

    counted: str  # the scanned table: the API's Total counts its rows; its sync_state name
    writes: tuple[str, ...]  # the tables it writes, each with a history table
    # A fan-out asset: (the typed column holding each row's scope, the fan-out parent table).
    per_scope: tuple[str, str] | None


@cache
def _asset_tables(directory: str, asset: str) -> AssetTables:
    declarations = load_declarations(Path(directory))
    declared = declarations.assets[asset]
    primary = declared.primary.spec
    parent = primary.routes.fan_out
    per_scope = None
    if parent is not None and primary.cost_centre is not None:
        per_scope = (primary.cost_centre.column, parent)
    return AssetTables(
        counted=declared.primary.name,
        writes=tuple(member.name for member in declared.members),
        per_scope=per_scope,
    )


def asset_tables(asset: str) -> AssetTables:
    """The tables the checks of `asset` read (KeyError: no such declared asset)."""
    return _asset_tables(str(load_declarations().directory), asset)


def is_per_scope(asset: str) -> bool:
    """Whether the asset is listed per scope (a fan-out), so its rows and Totals compare
    scope by scope, also in an account narrowed to some cost centres."""
    return asset_tables(asset).per_scope is not None


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


@cache
def _sql(name: str, **identifiers: str) -> TextClause:
    raw = (CHECKS_DIR / name).read_text(encoding="utf-8")
    # Identifiers come only from the declared tables and their typed columns, never input.
    for key, identifier in identifiers.items():
        assert identifier in TABLES or any(
            identifier in spec.column_names for spec in TABLES.values()
        ), identifier
        raw = raw.replace("{" + key + "}", identifier)
    return text(raw)


def row_count_matches_api_total(conn: Connection, account: str, asset: str) -> CheckOutcome:
    """Rows as of each scope's last full scan equal the Total that scan saw; fails while
    the asset's last finished run is `incomplete` (a scan it could not prove complete)."""
    tables = asset_tables(asset)
    table = resource = tables.counted
    last = conn.execute(
        _sql("last_finished_run.sql"), {"account": account, "resource": asset}
    ).one_or_none()
    if last is not None and last.status == "incomplete":
        sentence = last.error or f"{account}: the last scan of {asset} was not proven complete"
        return CheckOutcome(False, sentence, {"status": "incomplete", "run_id": last.run_id})
    if tables.per_scope is not None:
        column, parent = tables.per_scope
        query = _sql("row_count_per_scope.sql", table=table, column=column, parent=parent)
        rows = conn.execute(query, {"account": account, "resource": resource}).all()
    else:
        rows = conn.execute(
            _sql("row_count_account.sql", table=table), {"account": account, "resource": resource}
        ).all()
    if not rows:
        return CheckOutcome(False, f"{account}: no complete full scan of {resource} recorded")
    wrong = [
        {"scope": r.scope or "(account)", "api_total": r.last_total, "warehouse": r.active}
        for r in rows
        if r.active != r.last_total
    ]
    metadata = {
        "scopes_compared": len(rows),
        "api_total": sum(r.last_total for r in rows),
        "warehouse_rows": sum(r.active for r in rows),
        "mismatches": wrong[:SHOWN],
    }
    if wrong:
        where = ", ".join(str(w["scope"]) for w in wrong[:5])
        return CheckOutcome(
            False, f"{account}: {len(wrong)} scope(s) differ from the API Total: {where}", metadata
        )
    return CheckOutcome(True, f"{account}: {len(rows)} scope(s) match the API Total", metadata)


def no_duplicate_ids(conn: Connection, account: str, asset: str) -> CheckOutcome:
    """At most one open history version per id (the main tables are keyed by construction)."""
    duplicates: dict[str, list[dict[str, int]]] = {}
    for table in asset_tables(asset).writes:
        rows = conn.execute(
            _sql("open_versions.sql", table=table),
            {"account": account, "shown": SHOWN},
        ).all()
        if rows:
            duplicates[table] = [{"id": r.id, "open_versions": r.versions} for r in rows]
    if duplicates:
        tables = ", ".join(f"{t}_history" for t in duplicates)
        return CheckOutcome(
            False, f"{account}: ids with more than one open version in {tables}", duplicates
        )
    return CheckOutcome(True, f"{account}: one open version per id", {})


def fresh(
    conn: Connection, account: str, asset: str, max_age: timedelta, now: datetime | None = None
) -> CheckOutcome:
    """Every scope of the asset synced successfully within `max_age`."""
    resource = asset_tables(asset).counted
    rows = conn.execute(_sql("last_success.sql"), {"account": account, "resource": resource}).all()
    moment = now or datetime.now(UTC)
    successes = [r.last_success_at for r in rows if r.last_success_at is not None]
    if not successes:
        return CheckOutcome(False, f"{account}: {resource} never synced successfully")
    oldest = min(successes)
    age_h = (moment - oldest).total_seconds() / 3600
    never = [r.scope for r in rows if r.last_success_at is None]
    stale = [
        r.scope or "(account)"
        for r in rows
        if r.last_success_at and moment - r.last_success_at > max_age
    ]
    metadata = {
        "oldest_success": oldest.isoformat(),
        "age_hours": round(age_h, 2),
        "max_age_hours": max_age.total_seconds() / 3600,
        "scopes": len(rows),
    }
    if stale or never:
        names = ", ".join(str(s) for s in (stale + never)[:5])
        return CheckOutcome(
            False, f"{account}: {len(stale) + len(never)} scope(s) not fresh: {names}", metadata
        )
    return CheckOutcome(True, f"{account}: last success {age_h:.1f} h ago", metadata)


def no_new_fields(conn: Connection, account: str, asset: str) -> CheckOutcome:
    """The item keys without a typed column that the last finished run saw (kept in `data`),
    naming those first seen in that run. It always passes: an API that grows is adopted,
    not a warning (a typed column is a line in the resource's declaration and a
    `db upgrade`, which fills it from the rows already stored)."""
    row = conn.execute(
        _sql("new_fields.sql"), {"account": account, "resource": asset}
    ).one_or_none()
    if row is None:
        return CheckOutcome(True, f"{account}: no finished run of {asset} yet")
    fields, first_seen = list(row.new_fields), list(row.first_seen)
    metadata = {"run_id": row.run_id, "new_fields": fields, "first_seen": first_seen}
    if not fields:
        return CheckOutcome(True, f"{account}: every field has a typed column", metadata)
    described = f"{account}: {len(fields)} field(s) kept in data jsonb without a typed column"
    if first_seen:
        described += f", first seen in this run: {', '.join(first_seen[:10])}"
    else:
        described += f": {', '.join(fields[:10])}"
    return CheckOutcome(True, described, metadata)


def calls_as_planned(conn: Connection, account: str, asset: str) -> CheckOutcome:
    """The asset's last planned run spent what its plan said: calls beyond the plan, once
    retries (billed, budgeted apart) and deletion proofs (404s) are set aside, come from
    lists that changed while paged or a plan made from stale totals. Informational."""
    row = conn.execute(
        _sql("calls_as_planned.sql"), {"account": account, "resource": asset}
    ).one_or_none()
    if row is None:
        return CheckOutcome(True, f"{account}: no planned run of {asset} yet")
    extra = row.calls - row.retries - row.deleted - row.planned_calls
    metadata = {
        "run_id": row.run_id,
        "planned_calls": row.planned_calls,
        "calls": row.calls,
        "retries": row.retries,
        "deletion_proofs_allowed": row.deleted,
    }
    if extra > 0:
        return CheckOutcome(
            False,
            f"{account}: {extra} call(s) beyond the plan's {row.planned_calls} (lists changed"
            " while paged, or the plan's totals were stale)",
            metadata,
        )
    return CheckOutcome(
        True, f"{account}: {row.calls} call(s), the plan said {row.planned_calls}", metadata
    )


def last_refusal(conn: Connection, account: str, asset: str) -> tuple[str, str] | None:
    """(status, sentence) when the asset's last finished run was refused a route as a
    whole: `forbidden`, or `not_licensed` (as the account's config expects)."""
    row = conn.execute(
        _sql("last_finished_run.sql"), {"account": account, "resource": asset}
    ).one_or_none()
    if row is None or row.status not in ("forbidden", "not_licensed"):
        return None
    return row.status, row.error or f"{account}: {asset} {row.status}"


def routes_readable(conn: Connection, account: str, asset: str) -> CheckOutcome:
    """The API user's role may read the asset's routes: its last finished run was not
    refused a route as a whole (a 403 for a missing role right), unless not licensed."""
    refusal = last_refusal(conn, account, asset)
    if refusal is None:
        return CheckOutcome(True, f"{account}: the API answered the routes of {asset}")
    status, sentence = refusal
    return CheckOutcome(status == "not_licensed", sentence, {"status": status})
