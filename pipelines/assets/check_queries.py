"""The asset checks as plain functions over a warehouse connection (no Dagster).

Each returns a `CheckOutcome`: whether it passed, one line saying why, and metadata.
Which tables and `ops.sync_state` resources an asset's checks read is fixed here; the asset
`osapuolet` scans the links, so its counts and state are those of `osapuoli_yhteydet`,
while its history check covers both tables it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, TextClause, text

from pipelines.warehouse.migrations import SQL_DIR

CHECKS_DIR = SQL_DIR / "checks"

# asset -> (table whose rows the API's Total counts, its ops.sync_state resource)
COUNTED: dict[str, tuple[str, str]] = {
    "kustannuspaikat": ("kustannuspaikat", "kustannuspaikat"),
    "kohteet": ("kohteet", "kohteet"),
    "osapuolet": ("osapuoli_yhteydet", "osapuoli_yhteydet"),
    "ilmoitukset": ("ilmoitukset", "ilmoitukset"),
}
# asset -> the tables it writes (each with a history table)
WRITES: dict[str, tuple[str, ...]] = {
    "kustannuspaikat": ("kustannuspaikat",),
    "kohteet": ("kohteet",),
    "osapuolet": ("osapuolet", "osapuoli_yhteydet"),
    "ilmoitukset": ("ilmoitukset",),
}
SHOWN = 20


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


@cache
def _sql(name: str, table: str | None = None) -> TextClause:
    raw = (CHECKS_DIR / name).read_text(encoding="utf-8")
    # Identifiers come only from the constants above, never from input.
    if table is not None:
        assert table in {t for t, _ in COUNTED.values()}, table
        raw = raw.replace("{table}", table)
    return text(raw)


def row_count_matches_api_total(conn: Connection, account: str, asset: str) -> CheckOutcome:
    """Rows as of each scope's last full scan equal the Total that scan saw; fails while
    the asset's last finished run is `incomplete` (a scan it could not prove complete)."""
    table, resource = COUNTED[asset]
    last = conn.execute(
        _sql("last_finished_run.sql"), {"account": account, "resource": asset}
    ).one_or_none()
    if last is not None and last.status == "incomplete":
        sentence = last.error or f"{account}: the last scan of {asset} was not proven complete"
        return CheckOutcome(False, sentence, {"status": "incomplete", "run_id": last.run_id})
    if asset == "kohteet":
        rows = conn.execute(_sql("row_count_per_cost_centre.sql"), {"account": account}).all()
    else:
        rows = conn.execute(
            _sql("row_count_account.sql", table), {"account": account, "resource": resource}
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
    for table in WRITES[asset]:
        rows = conn.execute(
            text(
                f"SELECT id, count(*) AS versions FROM tampuuri.{table}_history"
                " WHERE account = :account AND valid_to IS NULL"
                " GROUP BY id HAVING count(*) > 1 ORDER BY id LIMIT :shown"
            ),
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
    _, resource = COUNTED[asset]
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
    not a warning (a typed column is a migration and the spec in warehouse/tables.py)."""
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
