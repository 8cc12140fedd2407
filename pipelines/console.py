"""Terminal output for sync runs: a progress bar per resource, then a summary table."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from pipelines.sync.report import ResourceReport, SyncReport

# Piped output (CI logs, `| tee`) gets 120 columns instead of rich's default 80.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


class RichProgress:
    """A ProgressListener drawing one bar per resource: scopes done, pages and rows."""

    def __init__(self, progress: Progress, account: str) -> None:
        self._progress = progress
        self._account = account
        self._tasks: dict[str, TaskID] = {}
        self._rows: dict[str, int] = {}
        self._pages: dict[str, int] = {}

    def resource_started(self, resource: str, scopes: int) -> None:
        self._rows[resource] = self._pages[resource] = 0
        self._tasks[resource] = self._progress.add_task(
            f"{self._account} {resource}", total=max(scopes, 1), status=""
        )

    def page_loaded(self, resource: str, rows: int) -> None:
        self._rows[resource] += rows
        self._pages[resource] += 1
        self._progress.update(
            self._tasks[resource],
            status=f"{self._pages[resource]} pages, {self._rows[resource]} rows",
        )

    def scope_finished(self, resource: str) -> None:
        self._progress.advance(self._tasks[resource])

    def resource_finished(self, report: ResourceReport) -> None:
        task = self._tasks.get(report.resource)
        if task is not None:
            self._progress.update(task, completed=self._progress.tasks[task].total)


@contextmanager
def progress_for(account: str) -> Iterator[RichProgress]:
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield RichProgress(progress, account)


def summary_table(reports: Sequence[SyncReport], title: str = "Sync summary") -> Table:
    """Per account and resource: rows new/changed/same/deleted, calls, retries, seconds,
    and objects skipped for lack of rights (403)."""
    table = Table(title=title)
    for column in (
        "account",
        "resource",
        "mode",
        "status",
        "new",
        "changed",
        "same",
        "deleted",
        "calls",
        "retries",
        "seconds",
        "403",
    ):
        numeric = column not in {"account", "resource", "mode", "status"}
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
    for report in reports:
        for r in report.resources:
            table.add_row(
                report.account,
                r.resource,
                r.mode,
                _status(r),
                str(r.counts.inserted),
                str(r.counts.updated),
                str(r.counts.unchanged),
                str(r.counts.deleted),
                str(r.calls),
                str(r.retries),
                f"{r.seconds:.1f}",
                str(len(r.skipped)),
            )
    return table


def _status(report: ResourceReport) -> str:
    colour = {"success": "green", "partial": "yellow"}.get(report.status, "red")
    return f"[{colour}]{report.status}[/{colour}]"


def print_errors(reports: Sequence[SyncReport]) -> None:
    for report in reports:
        if report.deferred_reason:
            console.print(f"[yellow]{report.account}: deferred: {report.deferred_reason}[/yellow]")
        for r in report.resources:
            if r.error:
                console.print(f"[red]{report.account} {r.resource}: {r.error}[/red]")
            for item in r.skipped[:10]:
                console.print(f"[yellow]{report.account} {r.resource}: skipped {item}[/yellow]")
