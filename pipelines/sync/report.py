"""What a sync run reports: per resource counts, calls and what could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pipelines.warehouse.loader import LoadCounts


class ProgressListener(Protocol):
    """Receives progress while a sync runs (the CLI draws bars; Dagster logs)."""

    def resource_started(self, resource: str, scopes: int) -> None: ...

    def page_loaded(self, resource: str, rows: int) -> None: ...

    def scope_finished(self, resource: str) -> None: ...

    def resource_finished(self, report: ResourceReport) -> None: ...


class SilentProgress:
    """The listener used when nobody watches."""

    def resource_started(self, resource: str, scopes: int) -> None:
        return None

    def page_loaded(self, resource: str, rows: int) -> None:
        return None

    def scope_finished(self, resource: str) -> None:
        return None

    def resource_finished(self, report: ResourceReport) -> None:
        return None


# Statuses of a resource run that leave nothing to do (the CLI exits 0, checks pass).
OK_STATUSES = frozenset({"success", "not_licensed"})


@dataclass
class ResourceReport:
    """One resource of one run: what was written, what it cost, what went wrong."""

    resource: str
    mode: str
    # success, partial, failed, deferred, skipped (its run lock was held), forbidden (the
    # route refused as a whole: a role right is missing), not_licensed (refused as the
    # account's config expects), incomplete (a scan changed faster than its repair reads
    # could prove: rows loaded, none deleted); `ok`: success or not_licensed.
    status: str = "running"
    counts: LoadCounts = field(default_factory=LoadCounts)
    # The counts per warehouse table: osapuolet writes its links and their parties.
    tables: dict[str, LoadCounts] = field(default_factory=dict)
    pages: int = 0
    calls: int = 0
    retries: int = 0
    scopes_total: int = 0
    scopes_done: int = 0
    scopes_incomplete: int = 0
    skipped: list[dict[str, object]] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    # The API answered 401 (wrong credentials): the run stopped, `error` says where.
    credentials_refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


@dataclass
class SyncReport:
    """A whole run over one account."""

    run_id: str
    account: str
    trigger: str
    resources: list[ResourceReport] = field(default_factory=list)
    calls: int = 0
    retries: int = 0
    seconds: float = 0.0
    deferred_reason: str | None = None
    trimmed_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.deferred_reason is None and all(r.ok for r in self.resources)

    @property
    def credentials_refused(self) -> str | None:
        """The 401 that stopped the run (the call the API answered, not those left unsent)."""
        refused = [r.error for r in self.resources if r.credentials_refused and r.error]
        answered = [e for e in refused if "not sent" not in e]
        return next(iter(answered or refused), None)

    def resource(self, name: str) -> ResourceReport:
        for report in self.resources:
            if report.resource == name:
                return report
        raise KeyError(name)
