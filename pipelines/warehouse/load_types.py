"""What a load is told and what it answers: its scope, the rows a scan missed, its counts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime


@dataclass(frozen=True)
class Scope:
    """Which warehouse rows a complete scan speaks for (its deletion candidates).

    Attributes:
        column: None for the whole account; else "id" or a typed column of the table,
            e.g. "kustannuspaikka_id" when one cost centre's objects were scanned.
        values: the column values the scan covered (no values: no rows).
    """

    column: str | None
    values: tuple[int, ...] = ()


@dataclass(frozen=True)
class MissingRow:
    """An active row a complete scan did not see; missing_since is set after a first miss."""

    id: int
    missing_since: datetime | None


@dataclass(frozen=True)
class LoadCounts:
    """What a load did; `stale` rows were older than the stored version and not written."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    stale: int = 0

    def __add__(self, other: LoadCounts) -> LoadCounts:
        return LoadCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )
