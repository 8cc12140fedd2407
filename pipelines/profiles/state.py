"""The profile adjustments stored in ops.profile_adjustments (one row per change)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from pipelines.settings import PROJECT_ROOT

_SQL = PROJECT_ROOT / "sql" / "profiles"
LATEST = text((_SQL / "latest_adjustments.sql").read_text(encoding="utf-8"))
RECORD = text((_SQL / "record_adjustment.sql").read_text(encoding="utf-8"))
# Serialises evaluations (the sensor's tick and a sweep's start) so one step is taken once.
ADAPT_LOCK_KEY = 7_286_451_019


@dataclass(frozen=True)
class StoredAdjustment:
    """One change of an account's adjustment: the level reached, its values, and why."""

    account: str
    profile: str
    level: int
    webhook_window_s: float
    reconcile_stretch: float
    forecast_calls: int
    package_calls: int
    reason: str
    changed_at: datetime


def latest_adjustments(conn: Connection, accounts: Sequence[str]) -> dict[str, StoredAdjustment]:
    """Each account's current adjustment (its latest change); absent: never adjusted."""
    rows = conn.execute(LATEST, {"accounts": list(accounts)}).mappings()
    return {row["account"]: StoredAdjustment(**row) for row in rows}


def record_adjustment(conn: Connection, adjustment: StoredAdjustment) -> None:
    """Store one change (the caller commits)."""
    conn.execute(RECORD, asdict(adjustment))


def lock_adjustments(conn: Connection) -> None:
    """Hold the adjustments until the transaction ends."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADAPT_LOCK_KEY})
