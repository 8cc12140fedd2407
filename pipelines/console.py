"""Terminal output for sync runs: a progress bar per resource, then a summary table.

Every `tampuuri-sync` command imports this module first, so it also keeps one known,
harmless warning off the terminal (below).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from pipelines.declarations import load_declarations
from pipelines.tampuuri.errors import object_refusal_sentence

if TYPE_CHECKING:  # types only: the sync imports this console's callers' modules
    from pipelines.sync.report import ResourceReport, SyncReport
from pipelines.warehouse.loader import LoadCounts

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
            status=f"{_plural(self._pages[resource], 'page')}, {self._rows[resource]} rows",
        )

    def scope_finished(self, resource: str) -> None:
        self._progress.advance(self._tasks[resource])

    def resource_finished(self, report: ResourceReport) -> None:
        task = self._tasks.get(report.resource)
        if task is None:
            return
        if report.ok:
            self._progress.update(task, completed=self._progress.tasks[task].total)
            return
        # A scope that failed still ends its turn (scope_finished); the bar shows only
        # the scopes read whole, and says why the rest are missing.
        status = self._progress.tasks[task].fields["status"]
        self._progress.update(
            task, completed=report.scopes_done, status=f"{status}  {_status(report)}"
        )


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
        "s",  # seconds (a short header keeps the table within 120 columns)
        "403",
    ):
        numeric = column not in {"account", "resource", "mode", "status"}
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
    for report in reports:
        for r in report.resources:
            run = (r.mode, _status(r))
            cost = (str(r.calls), str(r.retries), f"{r.seconds:.1f}", str(len(r.skipped)))
            for label, counts in _counts_by_table(r):
                table.add_row(report.account, label, *run, *_counts(counts), *cost)
                run, cost = ("", ""), ("", "", "", "")  # said once per resource
    return table


def _counts_by_table(report: ResourceReport) -> list[tuple[str, LoadCounts]]:
    """One line per warehouse table where an asset writes several (the parties' asset reads
    links, each carrying its party: summed they would count each row twice), in the asset's
    order (the listed rows first), each named by its declaration's `label`."""
    if len(report.tables) <= 1:
        return [(report.resource, report.counts)]
    declarations = load_declarations()
    order = [t for a in declarations.assets.values() for t in a.tables]
    tables = sorted(report.tables, key=lambda t: order.index(t) if t in order else len(order))
    labels = {n: d.spec.label or n for n, d in declarations.resources.items()}
    return [(f"{report.resource}: {labels.get(t, t)}", report.tables[t]) for t in tables]


def _counts(counts: LoadCounts) -> tuple[str, str, str, str]:
    return (
        str(counts.inserted),
        str(counts.updated),
        str(counts.unchanged),
        str(counts.deleted),
    )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _status(report: ResourceReport) -> str:
    colour = {"success": "green", "partial": "yellow", "not_licensed": "cyan"}.get(
        report.status, "red"
    )
    return f"[{colour}]{report.status}[/{colour}]"


def print_config_error(exc: Exception) -> None:
    """A configuration error as one line however long (no wrap: it is grepped and pasted);
    the caller exits with code 2."""
    console.print(f"[red]configuration error: {escape(str(exc))}[/red]", soft_wrap=True)


def print_errors(reports: Sequence[SyncReport]) -> None:
    for report in reports:
        refused = report.credentials_refused
        if refused is not None:  # one line: the other resources only repeat it
            console.print(
                f"[red]{escape(refused.rstrip('.'))}; check the values of the variables the"
                " account's credentials name (accounts file); nothing was synced[/red]",
                soft_wrap=True,
            )
            continue
        if report.deferred_reason:
            console.print(f"[yellow]{report.account}: deferred: {report.deferred_reason}[/yellow]")
        for r in report.resources:
            if r.error and r.status == "not_licensed":  # expected: a note, not an error
                console.print(f"[cyan]{escape(r.error)}[/cyan]", soft_wrap=True)
            elif r.error and r.status == "forbidden":  # the sentence names the account
                console.print(f"[red]{escape(r.error)}[/red]", soft_wrap=True)
            elif r.error:
                console.print(
                    f"[red]{report.account} {r.resource}: {escape(r.error)}[/red]", soft_wrap=True
                )
            for item in r.skipped[:10]:
                sentence = object_refusal_sentence(report.account, item)
                console.print(f"[yellow]{escape(sentence)}[/yellow]", soft_wrap=True)
